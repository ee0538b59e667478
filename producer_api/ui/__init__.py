"""The operator's web page at ``/ui``: static files, served with a strict policy.

The page (``static/``) is plain HTML and CSS, its modules ``app.js`` and ``whep.js`` and the
TypeScript client's browser build under ``client/``, all committed: ``npm run build:ui`` in
``clients/typescript`` makes them from ``src/*.ts`` and the client's sources, and
``scripts/test_clients_ts`` fails when they differ. Nothing is loaded from outside the
service, no inline script or style runs, and the key the operator types stays in the page
(memory, or sessionStorage when asked), never in a URL or a cookie.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from render_core.settings import Settings

STATIC = Path(__file__).with_name("static")


def content_security_policy(settings: Settings) -> str:
    """Everything from this origin only; frames and clips may come from the public S3
    endpoint (presigned redirects) and as blob: URLs the page makes of them."""
    extra = ""
    if settings.s3_public_url:
        parts = urlsplit(settings.s3_public_url)
        extra = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' blob:{extra}; media-src 'self' blob:; connect-src 'self'{extra}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class PageFiles(StaticFiles):
    """Static files with the page's security headers on every answer."""

    def __init__(self, directory: Path, policy: str) -> None:
        super().__init__(directory=directory, html=True)
        self.headers = {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cache-Control": "no-cache",
        }

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self.headers)
        return response


def install_ui(app: FastAPI, settings: Settings) -> None:
    """``/ui/`` serves the page; ``/ui`` redirects there (relative URLs need the slash)."""

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)

    app.mount("/ui/", PageFiles(STATIC, content_security_policy(settings)), name="ui")
