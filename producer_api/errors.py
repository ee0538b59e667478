"""Every error leaves the API as ``{"error": {"code": ..., "message": ...}}``.

Known errors map to their status; anything unexpected is caught by ``CatchAll``, logged
with its traceback and answered 500 ``internal_error`` in the same envelope, never as
a plain-text page.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from render_core.errors import QueueUnavailable, RenderServiceError, Unauthorized

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status: int, code: str, message: str, retry_after_s: float | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after_s is not None:
        # Whole seconds (RFC 9110), rounded up and at least 1, so a client never retries early.
        headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers or None)


class CatchAll:
    """Plain ASGI middleware: an exception no handler took becomes a logged 500 in the
    error envelope (if the response has not started; a broken stream is only logged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return
            response = error_response(500, "internal_error", "internal error; it was logged")
            await response(scope, receive, send)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for problem in exc.errors():
        where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _unparsable(exc: RequestValidationError) -> bool:
    """The body is not JSON at all (a 400), rather than JSON that breaks a rule (a 422)."""
    return any(problem.get("type") == "json_invalid" for problem in exc.errors())


def _template_pattern(template: str) -> re.Pattern[str]:
    """``/v1/renders/{job_id}/clip.mp4`` as a regex: each ``{name}`` is one path segment."""
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")


MethodTable = list[tuple[re.Pattern[str], int, frozenset[str]]]


def method_table(app: FastAPI) -> MethodTable:
    """Path templates and their methods: the documented operations, plus the app's own
    routes outside the document (``/metrics``, ``/docs``)."""
    templates = [
        (path, frozenset(method.upper() for method in operations))
        for path, operations in app.openapi()["paths"].items()
    ]
    for route in app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if isinstance(path, str) and methods:
            templates.append((path, frozenset(methods)))
    return [(_template_pattern(path), path.count("{"), methods) for path, methods in templates]


def allowed_methods(table: MethodTable, path: str) -> str:
    """The methods of the resource at ``path``, for a 405's ``Allow`` (RFC 9110). A literal
    path wins over a template (``/v1/renders/batch`` is not the render ``batch``)."""
    matches = [(params, methods) for pattern, params, methods in table if pattern.match(path)]
    fewest = min((params for params, _ in matches), default=0)
    allowed = set().union(*(methods for params, methods in matches if params == fewest))
    return ", ".join(sorted(allowed))


def install_error_handlers(app: FastAPI) -> None:
    @functools.cache
    def methods() -> MethodTable:
        return method_table(app)  # read once, after every route is in place

    @app.exception_handler(RenderServiceError)
    async def _service_error(_: Request, exc: RenderServiceError) -> JSONResponse:
        return error_response(exc.http_status, exc.code, exc.message, exc.retry_after_s)

    @app.exception_handler(redis.RedisError)
    async def _redis_error(_: Request, exc: redis.RedisError) -> JSONResponse:
        # A Redis call no store wrapped (the cache, limits, admission): the same 503.
        log.warning("redis unavailable: %s", exc)
        return error_response(503, QueueUnavailable.code, "the queue is unavailable; retry later")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        if _unparsable(exc):
            return error_response(400, "invalid_json", "the body is not valid JSON")
        return error_response(422, "invalid_request", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(methods(), request.url.path)
        return response


HTTP_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}

STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "The body cannot be parsed (not JSON, or not a multipart form).",
    401: Unauthorized.__doc__ or "",
    404: "Unknown id, or another tenant's.",
    409: "The resource is in the wrong state for that.",
    410: "Retention deleted the render's outputs.",
    413: "Over the size limits.",
    415: "Not a media type this route accepts, or undecodable.",
    422: "The request failed validation; the message names the fields.",
    429: "A limit of the tenant (`queue_full`: jobs queued or running at the cap; "
    "`rate_limited`: submissions faster than the rate; a batch counts as its size and is "
    "refused whole; `too_many_validations`: as many uploads being checked as it may). "
    "`Retry-After` says when to try again.",
    503: "Redis or object storage did not answer; retry later.",
}


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_responses(
    *statuses: int, retry_after: tuple[int, ...] = (), **described: str
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the error envelope;
    ``described`` (keys like ``s409``) overrides a status's generic description, and the
    statuses in ``retry_after`` document a ``Retry-After`` header."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": ErrorBody,
            "description": described.get(f"s{status}", STATUS_DESCRIPTIONS[status]),
        }
        if status in retry_after:
            response["headers"] = RETRY_AFTER_HEADER
        responses[status] = response
    return responses


# Every /v1 route can answer these: no or a wrong key, a malformed parameter, Redis down.
ERROR_RESPONSES = error_responses(401, 422, 503)
