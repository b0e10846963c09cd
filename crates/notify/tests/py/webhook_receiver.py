"""A local webhook receiver that checks signatures with the standardwebhooks package.

Usage: webhook_receiver.py SECRET
Prints "READY <port>" once listening on 127.0.0.1, then serves until stdin closes.
POST /hook: 204 if the signature is valid, 401 otherwise.
POST /status/NNN: answers with status NNN.
"""
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

SECRET = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
        else:
            try:
                Webhook(SECRET).verify(body, {k.lower(): v for k, v in self.headers.items()})
                status = 204
            except Exception:
                status = 401
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"READY {server.server_address[1]}", flush=True)
sys.stdin.read()
server.shutdown()
