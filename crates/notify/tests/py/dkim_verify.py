"""Verifies the DKIM signature of an .eml file with dkimpy, using a DNS TXT record given on the command line.

Usage: dkim_verify.py FILE "v=DKIM1; k=rsa; p=..."
Prints PASS and exits 0, or prints FAIL and exits 1.
"""
import logging
import sys

import dkim

path, record = sys.argv[1], sys.argv[2]
message = open(path, "rb").read()


def dnsfunc(name, timeout=5):
    return record.encode("ascii")


logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dnsfunc)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
