"""schemathesis hooks for tests/openapi_clients.rs: how to send an application/pdf body.

schemathesis has no serializer for application/pdf, and no JSON Schema can say "an A4 PDF with its
fonts embedded". A request the schema calls valid gets a real one: the PDF of a letter the running
service rendered (HYBRIDPOST_TEST_PDF names the file), which its own PDF check accepts. An invalid
request (negative generation) gets the generated value's bytes, as schemathesis sends any binary
body.
"""

import json
import os

import schemathesis
from schemathesis import GenerationMode

with open(os.environ["HYBRIDPOST_TEST_PDF"], "rb") as f:
    PDF = f.read()


def _body_is_negative(case):
    meta = case.meta
    if meta is None:
        return False
    return any(
        str(getattr(location, "value", location)) == "body" and info.mode == GenerationMode.NEGATIVE
        for location, info in meta.components.items()
    )


@schemathesis.serializer("application/pdf")
def pdf(ctx, value):
    if not _body_is_negative(ctx.case):
        return PDF
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode()


# --- What JSON Schema cannot say --------------------------------------------------------------
#
# The document carries every rule a field has on its own (lengths, patterns, enums). Some rules
# join a value to data or to other fields: an address must be a row of the official table, a
# citizen id's last digit is a check digit, a reply deadline comes after today, a letter has one
# of body, template or document_id, a reply form must have been uploaded, a dispatch names every
# letter or the first label of a roll, a batch of returns has a reason. A request the schema calls valid (positive generation) is made to
# keep those rules here, from the same sources the service uses; an invalid one is left as it is.

import datetime
import random
from pathlib import Path

from hypothesis import strategies as st

ADDRESSES = []
_table = Path(__file__).resolve().parents[4] / "crates/core/data/th_postal.tsv"
for line in _table.read_text(encoding="utf-8").splitlines()[1:]:
    cols = line.split("\t")
    ADDRESSES.append({"province": cols[1], "district": cols[3], "subdistrict": cols[5], "postcode": cols[6]})


def _citizen_id(first12):
    digits = [int(c) for c in first12]
    check = (11 - sum(d * (13 - i) for i, d in enumerate(digits)) % 11) % 10
    return first12 + str(check)


# Thai citizen ids: 13 digits, the first not 0 or 9, the last the check digit of the others.
schemathesis.openapi.format(
    "th-citizen-id",
    st.tuples(st.sampled_from("12345678"), st.text(alphabet="0123456789", min_size=11, max_size=11)).map(
        lambda parts: _citizen_id(parts[0] + parts[1])
    ),
)


def _s10(serial8):
    weights = [8, 6, 4, 2, 3, 5, 9, 7]
    check = 11 - sum(int(d) * w for d, w in zip(serial8, weights)) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"RB{serial8}{check}TH"


# UPU S10 tracking numbers with their check digit (the roll's next labels follow it).
schemathesis.openapi.format(
    "upu-s10", st.text(alphabet="0123456789", min_size=8, max_size=8).filter(lambda s: s < "99990000").map(_s10)
)


def _is_positive(case):
    meta = case.meta
    if meta is None:
        return True
    return meta.generation.mode != GenerationMode.NEGATIVE and all(
        info.mode != GenerationMode.NEGATIVE for info in meta.components.values()
    )


def _pick(seq, seed):
    return seq[random.Random(repr(seed)).randrange(len(seq))]


def _fix_letter(letter):
    """A generated letter made to keep the rules its schema cannot say."""
    if not isinstance(letter, dict):
        return
    recipient = letter.get("recipient")
    if isinstance(recipient, dict) and isinstance(recipient.get("address"), dict):
        recipient["address"].update(_pick(ADDRESSES, letter))
    # A citizen id's check digit is not in the schema; the coverage phase writes ids from the
    # length alone.
    if isinstance(recipient, dict) and recipient.get("citizen_id") is not None:
        recipient["citizen_id"] = _citizen_id(_pick(["110170020345", "310040012345", "512345678901"], letter))
    # A letter held until later goes as a batch of one; a time the schema allows may be more
    # than a year ahead, which the service refuses.
    letter.pop("send_after", None)
    # One of body, template or document_id: a template must exist, a document must have been
    # uploaded, so a generated letter carries its paragraphs.
    for key in ("template", "data", "document_id"):
        letter.pop(key, None)
    if not letter.get("body"):
        letter["body"] = ["ข้อความของหนังสือ"]
    # Classified letters need the agency's permission and top secret ones are always refused;
    # the letter's own date must not be after today nor a year before; ด่วนภายใน is a time;
    # an earlier letter's date is in the past; an enclosed PDF must have been uploaded.
    letter.pop("secrecy", None)
    letter.pop("date", None)
    today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7))).date()
    if isinstance(letter.get("urgency"), dict):
        letter["urgency"] = {"within": f"{today + datetime.timedelta(days=2)}T14:00:00+07:00"}
    for entry in letter.get("references") or []:
        if isinstance(entry, dict):
            entry["date"] = (today - datetime.timedelta(days=30)).isoformat()
    for entry in letter.get("enclosures") or []:
        if isinstance(entry, dict):
            entry.pop("document_id", None)
    reply = letter.get("reply")
    if reply is True:
        letter["reply"] = False
    elif isinstance(reply, dict):
        today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7))).date()
        reply["deadline"] = (today + datetime.timedelta(days=30)).isoformat()
        # An agency's form must have been uploaded, and answer boxes are declared on a form.
        reply.pop("form_document_id", None)
        reply.pop("answers", None)


@schemathesis.hook
def map_case(ctx, case):
    if not _is_positive(case) or not isinstance(case.body, dict):
        return case
    body = case.body
    route = (case.method.upper(), case.operation.path)
    if route == ("POST", "/v1/letters"):
        _fix_letter(body)
    elif route == ("POST", "/v1/letter-batches"):
        # Each letter of a batch keeps the rules of POST /v1/letters; the batch goes now.
        body.pop("send_after", None)
        for letter in body.get("letters") or []:
            _fix_letter(letter)
    elif route == ("POST", "/v1/print/batches/{batch_id}/dispatched"):
        # Every letter of the batch by id cannot be generated; the first label of a roll can.
        body.pop("tracking_numbers", None)
        body.setdefault("first_tracking_number", _s10("12345678"))
    return case


@schemathesis.hook("map_case")
def scans_form(ctx, case):
    # A batch of returns says why the letters came back; a batch of replies does not.
    if _is_positive(case) and isinstance(case.body, dict) and case.operation.path == "/v1/scans":
        if case.body.get("mode") == "returns":
            case.body.setdefault("reason", "moved")
        else:
            case.body.pop("reason", None)
    return case


@schemathesis.hook("map_case")
def existing_things(ctx, case):
    if not _is_positive(case) or not isinstance(case.body, dict):
        return case
    path = case.operation.path
    if path == "/v1/print/batches/{batch_id}/dispatched":
        case.body["first_tracking_number"] = _s10("12345678")
    elif path == "/v1/review/{page_id}" and case.body.get("action") == "assign":
        # A reference names a letter only when a letter has it.
        case.body["reference"] = os.environ["HYBRIDPOST_TEST_SEAL_REFERENCE"]
        case.body["with_pages"] = []
    return case

