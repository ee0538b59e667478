"""Every route of the OpenAPI document, fed malformed inputs (bad path parameters, huge
query and header values, garbage bodies, wrong content types), answers a JSON error
below 500: client mistakes are the client's (fast tier, the real app in process)."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from PIL import Image

from render_core.heartbeats import WorkerBeat, beat
from tests.api.conftest import KEY_A

pytestmark = pytest.mark.anyio

HUGE_DIGITS = "9" * 5000
STREAM_WAIT_S = 1.0
PATH_VALUES = [
    "x",
    "-1",
    "0",
    HUGE_DIGITS,
    "a" * 20_000,
    "%00",
    "%FF%FE",
    "%F0%9F%98%80",
    "..%2F..%2Fetc%2Fpasswd",
    "%0D%0ASet-Cookie:%20x",
    "1e999",
    "null",
]
QUERY_VALUES = ["", "-1", HUGE_DIGITS, "x" * 60_000, "\x00", "1e999", "null", "[]", "0x10"]
HEADER_VALUES = [HUGE_DIGITS, "x" * 20_000, "-", "1-", "-1", "\t"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_with(kind: bytes, data: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 90)).save(buffer, "PNG")
    png = buffer.getvalue()
    return png[:33] + _png_chunk(kind, data) + png[33:]


BOMB = zlib.compress(b"\0" * (3 << 20))
BAD_FILES = {
    "iccp_too_large": _png_with(b"iCCP", b"icc\0\0" + BOMB),
    "ztxt_too_large": _png_with(b"zTXt", b"k\0\0" + BOMB),
    "itxt_too_large": _png_with(b"iTXt", b"k\0\1\0\0\0" + BOMB),
    "corrupt_exif": _png_with(b"eXIf", b"MM\0*" + b"\xff" * 50),
    "truncated_png": _png_with(b"tEXt", b"k\0v")[:-30],
    "garbage": b"\x00\xff" * 500,
    "empty": b"",
    "mp4_header_only": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100,
}
JSON_BODIES = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"x"',
    b"[" * 50_000,
    b'{"a":' * 20_000,
    b"1" * 5000,
    b"\xff\xfe\x00",
    b'{"requests": 1e999}',
    b'{"character_id": 1e999}',
    b'{"url": "' + b"h" * 5000 + b'", "events": [' + b'"x",' * 1000 + b'"x"]}',
    b'{"character_id": "c", "emotion": "sad", "duration_ms": ' + b"9" * 4400 + b"}",
]
CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/xml",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-16",
]


@dataclass
class Case:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None

    def __str__(self) -> str:
        body = (self.content or b"")[:40]
        return f"{self.method} {self.path[:80]} {self.params!s:.80} {self.headers!s:.80} {body!r}"


def _fill(template: str, value: str) -> str:
    parts = template.split("/")
    return "/".join(value if p.startswith("{") else p for p in parts)


def _param_cases(method: str, base: str, params: list[dict[str, Any]]) -> Iterator[Case]:
    for param in params:
        if param["in"] == "query":
            for value in QUERY_VALUES:
                yield Case(method, base, params={param["name"]: value})
        if param["in"] == "header":
            for value in HEADER_VALUES:
                yield Case(method, base, headers={param["name"]: value})


def _body_cases(method: str, base: str, body: dict[str, Any]) -> Iterator[Case]:
    if "multipart/form-data" in body["content"]:
        for name, data in BAD_FILES.items():
            for part in ("portrait", "video", "other"):
                yield Case(method, base, files={part: (f"{name}.bin", data)})
        yield Case(method, base, files={"portrait": ("p", b"x")}, data={"name": "n" * 999})
    for content in JSON_BODIES:
        for content_type in CONTENT_TYPES:
            yield Case(method, base, headers={"Content-Type": content_type}, content=content)


def _cases(app: FastAPI) -> Iterator[Case]:
    for template, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            base = _fill(template, "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f")
            if "{" in template:
                for value in PATH_VALUES:
                    yield Case(method.upper(), _fill(template, value))
            yield from _param_cases(method.upper(), base, operation.get("parameters", []))
            if (body := operation.get("requestBody")) is not None:
                yield from _body_cases(method.upper(), base, body)


@pytest.fixture
def with_workers(redis_client: redis.Redis) -> None:
    """Heartbeats on every render queue, so /readyz is 200 rather than a true 503."""
    queues = ["render.interactive", "render.batch"]
    beat(redis_client, WorkerBeat(hostname="w@h", renderer="mock", queues=queues, pid=1))


async def test_every_route_answers_malformed_inputs_with_a_json_4xx(
    app: FastAPI, with_workers: None
) -> None:
    # As a server would: an exception that escapes the app is a 500, not a test error.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {KEY_A}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as c:
        await _walk(app, c)


async def _walk(app: FastAPI, client: httpx.AsyncClient) -> None:
    seen = 0
    failures: list[str] = []
    for case in _cases(app):
        request = client.request(
            case.method,
            case.path,
            params=case.params,
            headers=case.headers,
            content=case.content,
            files=case.files,
            data=case.data,
        )
        try:
            response = await asyncio.wait_for(request, STREAM_WAIT_S)
        except TimeoutError:  # an input that is valid after all: an event stream started
            if case.path.endswith("/events"):
                continue
            raise
        seen += 1
        is_json = response.headers.get("content-type", "").startswith("application/json")
        no_body = case.method == "HEAD" or response.status_code == 204
        if response.status_code >= 500 or not (is_json or no_body):
            failures.append(f"{response.status_code} {response.text[:100]!r} <- {case}")
    assert seen > 700
    assert not failures, "\n".join(failures[:30])


async def test_an_unexpected_error_is_a_logged_500_in_the_envelope(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("a bug, not the client's fault")

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {KEY_A}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as c:
        response = await c.get("/v1/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error; it was logged"}
    }
    logged = [r for r in caplog.records if r.name == "producer_api.errors"]
    assert logged and logged[0].exc_info is not None and "/v1/boom" in logged[0].getMessage()
