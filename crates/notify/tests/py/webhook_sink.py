"""A webhook receiver for outage tests: fails for a while, then verifies every webhook with the
standardwebhooks package and remembers what arrived.

Usage: webhook_sink.py SECRET_FILE --fail-first N
SECRET_FILE holds the whsec_ secret; it is read at each request, so it may be written after the
receiver started (the endpoint's URL must be known before the secret is issued).
Prints "READY <port>" once listening on 127.0.0.1, then serves until stdin closes.
POST /hook: the first N requests get 500; after that 204 when the signature verifies (the
webhook-id is recorded), 401 otherwise.
GET /stats: {"accepted": [webhook-id, ...], "rejected": n, "failed": n, "bodies": {id: body}}
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

p = argparse.ArgumentParser()
p.add_argument("secret_file")
p.add_argument("--fail-first", type=int, default=0)
a = p.parse_args()

lock = threading.Lock()
state = {"seen": 0, "accepted": [], "rejected": 0, "failed": 0, "bodies": {}}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with lock:
            state["seen"] += 1
            fail = state["seen"] <= a.fail_first
            if fail:
                state["failed"] += 1
        if fail:
            status = 500
        else:
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(open(a.secret_file).read().strip()).verify(body, headers)
                status = 204
                with lock:
                    state["accepted"].append(headers["webhook-id"])
                    state["bodies"][headers["webhook-id"]] = json.loads(body)
            except Exception:
                status = 401
                with lock:
                    state["rejected"] += 1
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            out = json.dumps({k: state[k] for k in ("accepted", "rejected", "failed", "bodies")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"READY {server.server_address[1]}", flush=True)
sys.stdin.read()
server.shutdown()
