"""The checks a request passes before any byte of its body is read (plain ASGI middleware).

FastAPI reads and parses a body before it resolves dependencies, so a key checked by a
dependency comes too late: a stranger's 100 MB body would be read, and a multipart one
spooled to disk, before the 401. Here, in order and before the app sees the request:

1. every ``/v1`` request needs a valid key: 401 at once otherwise, nothing read;
2. each route has a body limit (JSON routes 1 MiB, a portrait 10 MB and a driving video
   100 MB, each plus room for the multipart framing): a larger ``Content-Length`` is 413
   at once, and the bytes actually streamed are counted, 413 as soon as they pass it;
3. uploads take a slot: at most ``RENDER_MAX_CONCURRENT_UPLOADS`` are read and checked
   at once (503 with ``Retry-After`` past that), and at most
   ``RENDER_TENANT_CONCURRENT_VALIDATIONS`` of one tenant (429 with ``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer_api.auth import LOCAL_TENANT, tenant_for_key
from producer_api.errors import error_response
from producer_api.portraits import MAX_PORTRAIT_BYTES
from producer_api.videos import MAX_VIDEO_BYTES
from render_core.settings import Settings

MAX_JSON_BODY = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_LIMITS = {
    ("POST", "/v1/characters"): MAX_PORTRAIT_BYTES + MULTIPART_OVERHEAD,
    ("POST", "/v1/driving-videos"): MAX_VIDEO_BYTES + MULTIPART_OVERHEAD,
}
UPLOADS_RETRY_AFTER_S = 2


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a body passes its route's limit; FastAPI lets an
    ``HTTPException`` from body parsing through, so the error handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body is over {limit} bytes")


def protected(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def route_key(scope: Scope) -> tuple[str, str]:
    return str(scope["method"]), str(scope["path"]).rstrip("/")


def body_limit(scope: Scope) -> int:
    return UPLOAD_LIMITS.get(route_key(scope), MAX_JSON_BODY)


def is_upload(scope: Scope) -> bool:
    return route_key(scope) in UPLOAD_LIMITS


def declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class UploadSlots:
    """Uploads being read or checked in this process, in all and per tenant; a slot is
    taken before the body is read and given back when the answer is sent."""

    limit: int
    per_tenant: int
    busy: int = 0
    tenants: dict[str, int] = field(default_factory=dict)

    def take(self, tenant: str) -> int | None:
        """None when taken; else the status that refuses it (429 tenant, 503 everyone)."""
        if self.tenants.get(tenant, 0) >= self.per_tenant:
            return 429
        if self.busy >= self.limit:
            return 503
        self.busy += 1
        self.tenants[tenant] = self.tenants.get(tenant, 0) + 1
        return None

    def give_back(self, tenant: str) -> None:
        self.busy -= 1
        self.tenants[tenant] -= 1
        if not self.tenants[tenant]:
            del self.tenants[tenant]


class RequestGuard:
    """Auth, body limits and upload slots, ahead of the app (see the module's text)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.uploads = UploadSlots(
            limit=settings.max_concurrent_uploads,
            per_tenant=settings.tenant_concurrent_validations,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tenant = self._tenant(scope) if protected(str(scope["path"])) else LOCAL_TENANT
        if tenant is None:
            await self._refuse(scope, receive, send, 401, "unauthorized")
            return
        limit = body_limit(scope)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, 413, "body_too_large", limit=limit)
            return
        if not is_upload(scope):
            await self._pass(scope, receive, send, limit)
            return
        refused = self.uploads.take(tenant)
        if refused is not None:
            code = "too_many_validations" if refused == 429 else "uploads_busy"
            await self._refuse(scope, receive, send, refused, code)
            return
        try:
            await self._pass(scope, receive, send, limit)
        finally:
            self.uploads.give_back(tenant)

    def _tenant(self, scope: Scope) -> str | None:
        if not self.settings.auth_enabled:
            return LOCAL_TENANT
        scheme, _, key = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        return tenant_for_key(key.strip(), self.settings.tenants_by_key)

    async def _pass(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a ``receive`` that counts the body against ``limit``."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, noting_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, 413, "body_too_large", limit=limit)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, code: str, limit: int = 0
    ) -> None:
        messages = {
            401: "send Authorization: Bearer <a valid api key>",
            413: f"the request body is over {limit} bytes",
            429: "this tenant has as many uploads being checked as it may; retry shortly",
            503: "too many uploads are being checked; retry shortly",
        }
        response = error_response(status, code, messages[status])
        if status in (429, 503):
            response.headers["Retry-After"] = str(UPLOADS_RETRY_AFTER_S)
        await response(scope, receive, send)
