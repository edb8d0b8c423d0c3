"""A webhook receiver for tests: a real local HTTP server that checks Mizan's signatures."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from service.webhooks import SignatureError, verify

SECRET = "a-long-shared-secret-for-tests"


class Receiver:
    """A webhook endpoint: checks signatures, fails each event's first ``fail_first`` tries."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.attempts: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.payloads: dict[str, dict[str, object]] = {}
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify(SECRET, self.headers["Mizan-Signature"], body, time.time())
                except SignatureError:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                payload = json.loads(body)
                event_id = payload["event_id"]
                assert self.headers["Mizan-Event-Id"] == event_id
                receiver.attempts[event_id] += 1
                if receiver.attempts[event_id] <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.accepted[event_id] += 1
                    receiver.payloads[event_id] = payload
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mizan"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
