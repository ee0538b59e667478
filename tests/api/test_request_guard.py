"""Strangers cannot make the API read, buffer or spool their bodies, and nobody can send
more than a route takes (fast tier: the real app in process, bodies streamed to it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import starlette.formparsers
from fastapi import FastAPI

from producer_api.app import create_app
from render_core.settings import Settings
from tests.api.conftest import KEY_A, ClientFactory

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
BOUNDARY = "guard-test-boundary"


@dataclass
class Body:
    """A streamed body of ``total`` bytes that counts the chunks the server pulled."""

    total: int
    chunk: int = MIB
    head: bytes = b""
    pulled: int = 0
    gate: asyncio.Event | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        sent = 0
        if self.head:
            self.pulled += 1
            sent += len(self.head)
            yield self.head
        while sent < self.total:
            if self.gate is not None:
                await self.gate.wait()
            piece = min(self.chunk, self.total - sent)
            self.pulled += 1
            sent += piece
            yield b"7" * piece


def multipart_head(field: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def headers(body: Body, content_type: str, declared: bool = True) -> dict[str, str]:
    out = {"Content-Type": content_type}
    if declared:
        out["Content-Length"] = str(body.total + len(body.head))
    return out


async def test_a_100_mb_json_body_without_a_key_is_401_unread(client_for: ClientFactory) -> None:
    body = Body(total=100 * MIB)
    async with client_for(None) as anonymous:
        response = await anonymous.post(
            "/v1/renders", content=body.stream(), headers=headers(body, "application/json")
        )
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert body.pulled <= 1, f"the server read {body.pulled} MiB of a stranger's body"


async def test_an_oversized_body_with_a_key_is_413_at_once_or_at_its_limit(
    client: httpx.AsyncClient,
) -> None:
    declared = Body(total=100 * MIB)
    response = await client.post(
        "/v1/renders", content=declared.stream(), headers=headers(declared, "application/json")
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    assert declared.pulled <= 1
    streamed = Body(total=100 * MIB, chunk=64 * 1024)  # chunked: no Content-Length
    response = await client.post(
        "/v1/renders",
        content=streamed.stream(),
        headers=headers(streamed, "application/json", declared=False),
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    assert streamed.pulled * streamed.chunk <= 2 * MIB
    video = Body(total=150 * MIB, chunk=4 * MIB, head=multipart_head("video"))
    response = await client.post(
        "/v1/driving-videos",
        content=video.stream(),
        headers=headers(video, f"multipart/form-data; boundary={BOUNDARY}", declared=False),
    )
    assert response.status_code == 413
    assert video.pulled * video.chunk <= 110 * MIB


async def test_a_huge_multipart_without_a_key_is_never_parsed_or_spooled(
    client_for: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    spooled: list[Any] = []
    original = starlette.formparsers.SpooledTemporaryFile  # type: ignore[attr-defined]

    def recording(*args: Any, **kwargs: Any) -> Any:
        spooled.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", recording)
    for path, field in (("/v1/driving-videos", "video"), ("/v1/characters", "portrait")):
        body = Body(total=200 * MIB, chunk=4 * MIB, head=multipart_head(field))
        async with client_for("not-a-key") as stranger:
            response = await stranger.post(
                path,
                content=body.stream(),
                headers=headers(body, f"multipart/form-data; boundary={BOUNDARY}", False),
            )
        assert response.status_code == 401
        assert body.pulled <= 1 and spooled == []


async def test_uploads_past_the_limit_are_503_with_retry_after(api_settings: Settings) -> None:
    app: FastAPI = create_app(api_settings.model_copy(update={"max_concurrent_uploads": 1}))
    gate = asyncio.Event()
    slow = Body(total=2 * MIB, head=multipart_head("portrait"), gate=gate)
    auth = {"Authorization": f"Bearer {KEY_A}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=auth) as c:
        first = asyncio.create_task(
            c.post(
                "/v1/characters",
                content=slow.stream(),
                headers=headers(slow, f"multipart/form-data; boundary={BOUNDARY}"),
            )
        )
        while slow.pulled == 0:
            await asyncio.sleep(0.01)
        second = await c.post("/v1/characters", files={"portrait": ("p.png", b"x")})
        assert second.status_code == 503 and second.headers["retry-after"] == "2"
        assert second.json()["error"]["code"] == "uploads_busy"
        assert (await c.get("/v1/renders")).status_code == 200  # JSON routes are not slowed
        gate.set()
        assert (await first).status_code in (400, 415, 422)  # its slot comes back after
        third = await c.post("/v1/characters", files={"portrait": ("p.png", b"x")})
        assert third.status_code == 415
