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
    """A webhook endpoint as the README asks for one: checks signatures and deduplicates on the
    event id. For faults: fails each event's first ``fail_first`` tries, or, with ``hold_first``,
    stores the first event it gets and then holds the answer until closed (a sender killed
    meanwhile never learns it arrived)."""

    def __init__(self, fail_first: int = 0, *, port: int = 0, hold_first: bool = False) -> None:
        self.fail_first = fail_first
        self.attempts: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()  # 2xx answers per event
        self.effects: Counter[str] = Counter()  # events acted on: once each, by event id
        self.payloads: dict[str, dict[str, object]] = {}
        self.bad_signatures = 0
        self.holding = threading.Event()
        self._release = threading.Event()
        self._hold_first = hold_first
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
                    self.end_headers()
                    return
                if event_id not in receiver.payloads:
                    receiver.effects[event_id] += 1
                    receiver.payloads[event_id] = payload
                if receiver._hold_first and not receiver.holding.is_set():
                    receiver.holding.set()
                    receiver._release.wait()
                    return  # the connection closes without an answer
                receiver.accepted[event_id] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mizan"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
