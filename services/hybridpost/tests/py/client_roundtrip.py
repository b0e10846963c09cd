"""An agency's round trip through the Python client that openapi-python-client generated from the
served /openapi.json: create a paper letter, read it, find it in the list, download its PDF.

Only the generated client's typed calls are used (`sync_detailed` and the models it returns), as an
agency's developer would use them: a response the client cannot parse into its documented model is a
finding, reported with what the server actually sent. Every step runs even after one fails (with the
letter id taken from the raw answer when the model could not be built), one `ok:` or `FAIL:` line
each; the exit code is 1 when any step failed.

Last, without the network: every operation of the document that sends or answers a PDF or an image
must take or give the client's `File` (the bytes), not a list of numbers or nothing.

Usage: client_roundtrip.py CLIENT_PARENT_DIR OPENAPI_JSON BASE_URL AGENCY_KEY LETTER_JSON
"""

import glob
import importlib
import inspect
import json
import os
import sys
import traceback

client_parent, document_path, base_url, key, letter_path = sys.argv[1:6]
sys.path.insert(0, client_parent)

from hybridpost_client import AuthenticatedClient  # noqa: E402
from hybridpost_client.api.letters import create_letter, get_letter, letter_pdf, list_letters  # noqa: E402
from hybridpost_client.models import LetterDetail, LetterSummary, NewLetter  # noqa: E402
from hybridpost_client.models import PageLetterSummary as LetterList  # noqa: E402
from hybridpost_client.types import File  # noqa: E402

failures = []


def ok(what):
    print(f"ok: {what}", flush=True)


def fail(what):
    failures.append(what)
    print(f"FAIL: {what}", flush=True)


def raw(response, limit=600):
    """What the server sent, for a failure's message."""
    text = response.content[:limit].decode("utf-8", "replace")
    return f"{response.status_code} {response.headers.get('content-type')}: {text}"


def step(name, call):
    """Runs one call of the client; an exception (a model that cannot be built) is a failure."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - any exception of the generated code is a finding
        last = traceback.extract_tb(e.__traceback__)[-1]
        fail(f"{name}: the client raised {type(e).__name__}: {e} (at {last.filename.split('/')[-1]}:{last.lineno})")
        return None


def is_binary(media_type):
    return media_type in ("application/pdf", "application/octet-stream") or media_type.startswith("image/")


def check_binary_bodies():
    """Step 5: binary bodies are bytes (`File`) in the client's types."""
    with open(document_path, encoding="utf-8") as f:
        document = json.load(f)
    api_dir = os.path.join(client_parent, "hybridpost_client", "api")
    wrong = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            label = f"{method.upper()} {path}"
            binary_request = any(is_binary(t) for t in operation.get("requestBody", {}).get("content", {}))
            binary_response = any(
                is_binary(t)
                for status, response in operation.get("responses", {}).items()
                if status.startswith("2")
                for t in response.get("content", {})
            )
            if not (binary_request or binary_response):
                continue
            found = glob.glob(os.path.join(api_dir, "*", f"{operation['operationId']}.py"))
            if not found:
                wrong.append(f"{label}: the client has no function for it")
                continue
            package = os.path.basename(os.path.dirname(found[0]))
            module = importlib.import_module(f"hybridpost_client.api.{package}.{operation['operationId']}")
            if binary_request:
                annotation = str(inspect.signature(module.sync_detailed).parameters["body"].annotation)
                if "File" not in annotation:
                    wrong.append(f"{label}: the client takes the body as {annotation}")
            if binary_response:
                annotation = str(inspect.signature(module._parse_response).return_annotation)
                if "File" not in annotation:
                    wrong.append(f"{label}: the client gives the 2xx answer as {annotation}")
    for w in wrong:
        fail(f"binary body: {w}")
    if not wrong:
        ok("every PDF or image body is a File in the client")


client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True, timeout=30.0)
with open(letter_path, encoding="utf-8") as f:
    fixture = json.load(f)

# 1. Create: the body is the generated NewLetter model, built from the fixture.
body = step("NewLetter.from_dict(the fixture)", lambda: NewLetter.from_dict(fixture))
sent = body.to_dict() if body is not None else None
if body is not None and sent != fixture:
    fail(f"NewLetter does not round-trip the fixture: sent {json.dumps(sent, ensure_ascii=False)}")
letter_id = None
if body is not None:
    created = step("POST /v1/letters", lambda: create_letter.sync_detailed(client=client, body=body))
    if created is not None:
        if created.status_code != 201:
            fail(f"POST /v1/letters answered {raw(created)}")
        elif not isinstance(created.parsed, LetterSummary):
            fail(f"POST /v1/letters: parsed as {type(created.parsed).__name__}, not LetterSummary: {raw(created)}")
        else:
            letter_id = created.parsed.letter_id
            ok(f"POST /v1/letters created letter {letter_id} ({created.parsed.channel}, {created.parsed.status})")
        if letter_id is None and created.status_code == 201:
            letter_id = json.loads(created.content)["letter_id"]

if letter_id is None:
    fail("no letter was created: reading, listing and downloading it cannot run")
    check_binary_bodies()
    sys.exit(1)

# 2. Read it back.
read = step("GET /v1/letters/{letter_id}", lambda: get_letter.sync_detailed(letter_id, client=client))
if read is not None:
    if read.status_code != 200:
        fail(f"GET /v1/letters/{letter_id} answered {raw(read)}")
    elif not isinstance(read.parsed, LetterDetail):
        fail(f"GET /v1/letters/{letter_id}: parsed as {type(read.parsed).__name__}, not LetterDetail: {raw(read)}")
    else:
        detail = read.parsed.to_dict()
        same = str(detail.get("letter_id")) == str(letter_id)
        subject = detail.get("letter", {}).get("subject") if isinstance(detail.get("letter"), dict) else None
        if not same:
            fail(f"GET /v1/letters/{letter_id} read letter {detail.get('letter_id')}")
        elif subject != fixture["subject"]:
            fail(f"GET /v1/letters/{letter_id}: subject {subject!r}, sent {fixture['subject']!r}")
        else:
            ok(f"GET /v1/letters/{letter_id} read the letter back (subject {subject!r})")

# 3. Find it in the list, page by page.
found = False
cursor = None
for page in range(20):
    kwargs = {"client": client, "limit": 100}
    if cursor is not None:
        kwargs["cursor"] = cursor
    listed = step("GET /v1/letters", lambda kwargs=kwargs: list_letters.sync_detailed(**kwargs))
    if listed is None:
        break
    if listed.status_code != 200 or not isinstance(listed.parsed, LetterList):
        fail(f"GET /v1/letters: parsed as {type(listed.parsed).__name__}, not LetterList: {raw(listed)}")
        break
    if any(str(item.letter_id) == str(letter_id) for item in listed.parsed.items):
        found = True
        ok(f"GET /v1/letters lists letter {letter_id} (page {page + 1})")
        break
    cursor = listed.parsed.next_cursor if isinstance(listed.parsed.next_cursor, str) else None
    if cursor is None:
        break
if not found and not any(f.startswith("GET /v1/letters:") for f in failures):
    fail(f"GET /v1/letters does not list letter {letter_id}")

# 4. Its PDF: the client should hand back the file's bytes.
pdf = step("GET /v1/letters/{letter_id}/pdf", lambda: letter_pdf.sync_detailed(letter_id, client=client))
if pdf is not None:
    if pdf.status_code != 200:
        fail(f"GET /v1/letters/{letter_id}/pdf answered {raw(pdf)}")
    elif not isinstance(pdf.parsed, File):
        start = pdf.content[:8]
        fail(
            f"GET /v1/letters/{letter_id}/pdf: the client parsed the 200 answer as {pdf.parsed!r}, not a File "
            f"(the server sent {len(pdf.content)} bytes of {pdf.headers.get('content-type')} starting {start!r})"
        )
    else:
        data = pdf.parsed.payload.read()
        if not data.startswith(b"%PDF"):
            fail(f"GET /v1/letters/{letter_id}/pdf: the file starts {data[:16]!r}, not %PDF")
        else:
            ok(f"GET /v1/letters/{letter_id}/pdf downloaded {len(data)} bytes starting %PDF")

check_binary_bodies()
print("every step passed" if not failures else f"{len(failures)} failure(s)", flush=True)
sys.exit(1 if failures else 0)
