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
