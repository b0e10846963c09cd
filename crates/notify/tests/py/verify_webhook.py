"""Verifies a webhook with the standardwebhooks package. The body is read from stdin.

Usage: verify_webhook.py SECRET WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < body
Prints OK and exits 0, or prints the error and exits 1.
"""
import sys

from standardwebhooks.webhooks import Webhook

secret, wid, ts, sig = sys.argv[1:5]
body = sys.stdin.buffer.read()
headers = {"webhook-id": wid, "webhook-timestamp": ts, "webhook-signature": sig}
try:
    Webhook(secret).verify(body, headers)
except Exception as e:  # the package raises WebhookVerificationError
    print(f"REJECTED {type(e).__name__}: {e}")
    sys.exit(1)
print("OK")
