"""The async client against the same real stack as the sync one."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest
from avatar_render_client import (
    AsyncAvatarRenderClient,
    ChecksumMismatch,
    InvalidRequest,
    Job,
    JobStatus,
    NotFound,
    Unauthorized,
)

from tests.clients.conftest import FAST_RETRY, SMALL, api_key
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack

pytestmark = pytest.mark.integration


class DropFirstAnswer(httpx.AsyncBaseTransport):
    """The async twin of the sync tests' transport: loses the first POST's answer."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.keys_sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path == "/v1/renders":
            self.keys_sent.append(request.headers["Idempotency-Key"])
            if len(self.keys_sent) == 1:
                await response.aread()
                await response.aclose()
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_the_async_client_end_to_end(stack: Stack, tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = DropFirstAnswer()
        async with AsyncAvatarRenderClient(
            stack.api_url, api_key("async"), retry=FAST_RETRY, transport=transport
        ) as client:
            assert (await client.health()).status == "ok"
            character = await client.register_character(SAMPLE_PORTRAIT, name="async")

            # Submitted while its first answer is lost: one job all the same.
            job = await client.render(character.id, "disgusted", **SMALL)
            assert len(transport.keys_sent) == 2 and len(set(transport.keys_sent)) == 1

            updates: list[Job] = []

            async def on_progress(update: Job) -> None:  # a coroutine callback is awaited
                await asyncio.sleep(0)
                updates.append(update)

            final = await client.wait(
                job.id, timeout_s=60, poll_interval_s=0.05, on_progress=on_progress
            )
            assert final.status == JobStatus.succeeded and updates[-1] == final

            others = await asyncio.gather(
                *(client.render(character.id, e, **SMALL) for e in ("happy", "sad"))
            )
            batch = await client.render_batch(
                [{"character_id": character.id, "emotion": "neutral", **SMALL}]
            )
            for other in [*others, *batch]:
                await client.wait(other.id, timeout_s=60, poll_interval_s=0.05)
            listed = [j.id async for j in client.iter_jobs(page_size=2)]
            assert len(listed) == 4 and listed[-1] == job.id

            out = await client.download_outputs(job.id, tmp_path / "out")
            assert len(out.frames) == 10 and out.clip is not None
            for entry, path in zip(out.manifest.frames, out.frames, strict=True):
                assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256

            stored = stack.storage_dir / out.manifest.frame(0).key
            stored.write_bytes(stored.read_bytes()[::-1])
            with pytest.raises(ChecksumMismatch):
                await client.download_frame(job.id, 0, tmp_path, manifest=out.manifest)

            with pytest.raises(NotFound):
                await client.get_job("0" * 32)
            with pytest.raises(InvalidRequest):
                await client.render(character.id, "happy", fps=0)

        async with AsyncAvatarRenderClient(stack.api_url, "wrong-key") as stranger:
            with pytest.raises(Unauthorized):
                await stranger.list_jobs()

    asyncio.run(scenario())
