"""Parses .eml files with Python's standard email package and prints what it sees as JSON.

Usage: inspect_eml.py FILE...
"""
import email
import html
import email.policy
import json
import sys


def inspect(path):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    parts, defects = [], [str(d) for d in msg.defects]
    for part in msg.walk():
        defects.extend(str(d) for d in part.defects)
        if part.is_multipart():
            continue
        parts.append(
            {
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("content-transfer-encoding"),
                "content": part.get_content(),
                # What a reader sees: HTML entities decoded (tags are kept).
                "text": html.unescape(part.get_content()) if part.get_content_type() == "text/html" else part.get_content(),
            }
        )
    date = msg["date"]
    return {
        "subject": str(msg["subject"]),
        "from": str(msg["from"]),
        "to": str(msg["to"]),
        "message_id": str(msg["message-id"]),
        "date": str(date),
        "date_valid": date is not None and date.datetime is not None,
        "mime_version": str(msg["mime-version"]),
        "content_type": msg.get_content_type(),
        "auto_submitted": str(msg["auto-submitted"]),
        "header_is_ascii": all(b < 128 for b in head),
        "raw_subject_line": next(
            (l.decode("ascii", "replace") for l in head.splitlines() if l.lower().startswith(b"subject:")), None
        ),
        "defects": defects,
        "parts": parts,
    }


print(json.dumps([inspect(p) for p in sys.argv[1:]], ensure_ascii=False))
