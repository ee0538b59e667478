"""A webhook receiver on loopback for the demo: it verifies each delivery's Standard
Webhooks signature, as an integrator's endpoint would, and counts what arrived."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from render_cli.local_redis import free_port


class WebhookSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.secret: str | None = None
        self.verified: dict[str, dict[str, Any]] = {}  # webhook-id -> event
        self.refused = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            event: dict[str, Any] = Webhook(self.secret or "").verify(body, headers)
        except (WebhookVerificationError, ValueError):
            with self._lock:
                self.refused += 1
            return 400
        with self._lock:
            self.verified[headers["webhook-id"]] = event
        return 204

    def start(self) -> WebhookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = sink._take(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.verified.values())

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
