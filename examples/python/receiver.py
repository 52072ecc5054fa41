"""A webhook receiver with Python's standard library only: it verifies the
Standard Webhooks signature of every delivery and prints its type.

    WEBHOOK_SECRET=whsec_... PORT=8000 python3 examples/python/receiver.py

The key is the base64-decoded part of the secret after "whsec_"; the
signature is HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}") in
base64, one of the space-separated "v1,..." values of webhook-signature.
"""
import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))
TOLERANCE = 5 * 60  # seconds; older or newer timestamps are replays


def verify(headers, body):
    """True when body is signed with KEY and recent."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    try:
        if abs(time.time() - int(ts)) > TOLERANCE:
            return False
    except ValueError:
        return False
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, sig) for sig in headers.get("webhook-signature", "").split())


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.headers, body):
            self.send_response(401)
            self.end_headers()
            print("refused", self.headers.get("webhook-id"), flush=True)
            return
        event = json.loads(body)
        # de-duplicate on webhook-id: a delivery may come more than once
        print("verified", event["type"], event.get("live_input_id", ""), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
