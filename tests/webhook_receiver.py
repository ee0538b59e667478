"""A real HTTP receiver on loopback for webhook tests: it records every request and
answers as told (fail the first N tries of each message, answer slowly, redirect)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from render_cli.local_redis import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered (or was about to, when the sender hung up)
    at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result

    def verify(self, secret: str) -> dict[str, Any]:
        """Standard Webhooks' own verification (signature and timestamp)."""
        result: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return result


class Receiver:
    """``start``/``stop`` on a fixed port (so "down, then back" is the same URL)."""

    def __init__(
        self,
        fail_first: int = 0,
        fail_status: int = 500,
        delay_s: float = 0.0,
        redirect_to: str | None = None,
    ) -> None:
        self.port = free_port()
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay_s = delay_s
        self.redirect_to = redirect_to
        self.received: list[Received] = []
        self.in_flight = 0
        self._tries: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer_for(headers.get("webhook-id", ""))
                with receiver._lock:
                    receiver.in_flight += 1
                try:
                    time.sleep(receiver.delay_s)
                    with receiver._lock:
                        receiver.received.append(Received(headers, body, status))
                    self.send_response(status)
                    if receiver.redirect_to and status == 302:
                        self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender hung up (or was killed)
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _answer_for(self, message_id: str) -> int:
        if self.redirect_to:
            return 302
        with self._lock:
            self._tries[message_id] += 1
            return self.fail_status if self._tries[message_id] <= self.fail_first else 200

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered_ids(self) -> set[str]:
        with self._lock:
            return {r.id for r in self.received if r.status == 200}

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
