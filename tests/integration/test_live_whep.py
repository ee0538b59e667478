"""Live view over WebRTC (WHEP) on a real stack: uvicorn, a mock worker, Redis, and an
aiortc viewer on the same host.

The mock draws each frame's index on it, so a received frame is identified by comparing
it with the stored frames (its caption band, where the counter is): the viewer must get
every frame of the clip, in order, the first one within codec tolerance of the stored
one, and while the render is still running.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, answers_200, wait_until
from tests.stack import CLI, Stack, register_portrait, running_stack, wait_for_job
from tests.whep_client import Received, WhepError, WhepViewer, watch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

KEY_A, KEY_B = "key-a-live-0001", "key-b-live-0002"
MAX_SESSIONS = 3
# 50 frames of 256 px; at 40 ms a frame the mock takes 2 s, the clip plays for 2 s.
CLIP = {"emotion": "happy", "size": 256, "duration_ms": 2000, "fps": 25}
FRAMES = 50
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("live")
    with running_stack(
        redis_server.url,
        root,
        api_keys=f"tenant-a:{KEY_A},tenant-b:{KEY_B}",
        frame_batch_size="8",
        first_batch_size="4",
        mock_frame_delay_s="0.04",
        webrtc_max_sessions=str(MAX_SESSIONS),
        events_keepalive_s="2",
        mock_faults="true",  # metadata.mock_fault = "permanent" fails a render
    ) as s:
        s.start_worker("live-mock")
        s.start_api()
        yield s


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30.0
    ) as c:
        yield c


@pytest.fixture(scope="module")
def character(client: httpx.Client) -> dict[str, Any]:
    return register_portrait(client)


def _submit(client: httpx.Client, character: dict[str, Any], **shape: Any) -> str:
    body = {"character_id": character["id"], **CLIP, **shape}
    response = client.post("/v1/renders", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _stored_frames(client: httpx.Client, job_id: str, count: int) -> list[np.ndarray]:
    frames = []
    for index in range(count):
        response = client.get(f"/v1/renders/{job_id}/frames/{index}")
        assert response.status_code == 200, response.text
        with Image.open(io.BytesIO(response.content)) as image:
            frames.append(np.asarray(image.convert("RGB"), dtype=np.float32))
    return frames


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _indices(received: Received, stored: list[np.ndarray]) -> list[int]:
    """Each received frame's index: the stored frame nearest in the caption band (the
    bottom fifth, where the mock writes "frame i/n")."""
    band = slice(-stored[0].shape[0] // 5, None)
    captions = np.stack([frame[band] for frame in stored])
    found = []
    for frame in received.frames:
        assert frame.shape == stored[0].shape, "the video is not at the clip's size"
        distances = np.abs(captions - frame[band].astype(np.float32)).mean(axis=(1, 2, 3))
        found.append(int(np.argmin(distances)))
    return found


def _check_clip(received: Received, stored: list[np.ndarray]) -> list[int]:
    assert received.ended, "the track did not end after the last frame"
    assert len(received.frames) >= FRAMES
    first = received.frames[0]
    assert _mean_abs_diff(first, stored[0]) < 6.0 and _psnr(first, stored[0]) > 28.0, (
        _mean_abs_diff(first, stored[0]),
        _psnr(first, stored[0]),
    )
    indices = _indices(received, stored)
    assert indices == sorted(indices), f"the counter went backwards: {indices}"
    assert indices[0] == 0 and indices[-1] == FRAMES - 1
    assert set(indices) == set(range(FRAMES)), f"frames missing: {indices}"
    return indices


def test_a_running_render_plays_live_every_frame_in_order(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    job_id = _submit(client, character)
    received = asyncio.run(watch(stack.api_url, KEY_A, job_id))  # opened while queued
    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded"
    _check_clip(received, _stored_frames(client, job_id, FRAMES))
    # Live: the first frame was on screen well before the render finished.
    finished = datetime.fromisoformat(job["finished_at"]).timestamp()
    assert received.times[0] < finished - 1.0, (received.times[0], finished)


def test_a_finished_render_plays_its_whole_clip(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    job_id = _submit(client, character, emotion="sad")
    assert wait_for_job(client, job_id)["status"] == "succeeded"
    started = time.monotonic()
    received = asyncio.run(watch(stack.api_url, KEY_A, job_id))
    _check_clip(received, _stored_frames(client, job_id, FRAMES))
    # Played at the clip's fps: 50 frames at 25 fps take about 2 s, not a burst.
    assert received.times[-1] - received.times[0] > 1.5
    assert time.monotonic() - started < 30


def test_a_cancelled_render_ends_the_track(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    job_id = _submit(client, character, duration_ms=6000)  # 150 frames, 6 s to render

    async def scenario() -> Received:
        viewer = WhepViewer(stack.api_url, KEY_A, job_id)
        try:
            await viewer.open()
            first = await viewer.receive(limit=3)
            assert len(first.frames) == 3
            await asyncio.to_thread(client.post, f"/v1/renders/{job_id}/cancel")
            rest = await viewer.receive(timeout_s=20)
            assert rest.ended, "the track went on after the cancel"
            return rest
        finally:
            await viewer.close()

    rest = asyncio.run(scenario())
    assert len(rest.frames) < 150 - 3
    assert wait_for_job(client, job_id)["status"] == "cancelled"
    again = client.post(f"/v1/renders/{job_id}/whep", content=b"v=0", headers=SDP)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_playable"


def test_a_failed_render_ends_the_track(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    # The one worker is busy with a long render, so the doomed one is surely queued when
    # its session opens; cancelling the long one lets the doomed one run (and fail).
    busy = _submit(client, character, duration_ms=6000)
    # Uncached: metadata is not part of the cache key, so it would be a hit of an earlier clip.
    doomed = _submit(client, character, metadata={"mock_fault": "permanent"}, cache=False)

    async def scenario() -> Received:
        viewer = WhepViewer(stack.api_url, KEY_A, doomed)
        try:
            await viewer.open()
            await asyncio.to_thread(client.post, f"/v1/renders/{busy}/cancel")
            return await viewer.receive(timeout_s=30)
        finally:
            await viewer.close()

    received = asyncio.run(scenario())
    assert received.ended and received.frames == []
    job = wait_for_job(client, doomed)
    assert job["status"] == "failed" and job["error"]["code"] == "render_failed"


def test_tenants_keys_and_bodies_are_checked(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    job_id = _submit(client, character, duration_ms=400)

    async def as_other_tenant() -> None:
        viewer = WhepViewer(stack.api_url, KEY_B, job_id)
        try:
            with pytest.raises(WhepError) as refused:
                await viewer.open()
            assert refused.value.response.status_code == 404
        finally:
            await viewer.close()

    asyncio.run(as_other_tenant())
    path = f"/v1/renders/{job_id}/whep"
    anonymous = httpx.post(f"{stack.api_url}{path}", content=b"v=0", headers=SDP)
    assert anonymous.status_code == 401
    as_json = client.post(path, json={"sdp": "v=0"})
    assert as_json.status_code == 415
    garbage = client.post(path, content=b"not an offer at all", headers=SDP)
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "invalid_sdp"
    assert client.post("/v1/renders/nope/whep", content=b"v=0", headers=SDP).status_code == 404
    wait_for_job(client, job_id)


def test_the_session_limit_and_delete(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    job_id = _submit(client, character, duration_ms=6000)

    async def scenario() -> None:
        viewers = [WhepViewer(stack.api_url, KEY_A, job_id) for _ in range(MAX_SESSIONS + 2)]
        try:
            for viewer in viewers[:MAX_SESSIONS]:
                await viewer.open()
            metrics = await asyncio.to_thread(httpx.get, f"{stack.api_url}/metrics")
            assert f"avatar_render_live_sessions {MAX_SESSIONS:.1f}" in metrics.text
            with pytest.raises(WhepError) as full:
                await viewers[MAX_SESSIONS].open()
            answer = full.value.response
            assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 0
            assert answer.json()["error"]["code"] == "too_many_sessions"
            # Another tenant cannot end a session; its owner can, once.
            other = httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY_B}"})
            assert viewers[0].location is not None
            foreign = await other.delete(f"{stack.api_url}{viewers[0].location}")
            await other.aclose()
            assert foreign.status_code == 404
            assert (await viewers[0].delete()).status_code == 204
            assert (await viewers[0].delete()).status_code == 404
            ended = await viewers[0].receive(timeout_s=10)
            assert ended.ended
            await viewers[MAX_SESSIONS + 1].open()  # the freed place is taken
        finally:
            for viewer in viewers:
                await viewer.close()

    asyncio.run(scenario())
    client.post(f"/v1/renders/{job_id}/cancel")


def test_a_stream_process_holds_sessions_and_a_delete_anywhere_ends_them(
    stack: Stack, client: httpx.Client, character: dict[str, Any]
) -> None:
    port = free_port()
    job_id = _submit(client, character, duration_ms=6000)
    stream = ManagedProcess(
        [*CLI, "stream", "--host", "127.0.0.1", "--port", str(port)],
        stack.env,
        stack.logs / "stream.log",
    )
    stream_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers_200(f"{stream_url}/healthz"), 60, "the stream role answering")

        async def scenario() -> Received:
            viewer = WhepViewer(stream_url, KEY_A, job_id)
            try:
                await viewer.open()
                assert len((await viewer.receive(limit=3)).frames) == 3
                # The API process does not hold the session: it asks its owner to end it.
                assert viewer.location is not None
                ended = await asyncio.to_thread(client.delete, viewer.location)
                assert ended.status_code == 204, ended.text
                return await viewer.receive(timeout_s=10)
            finally:
                await viewer.close()

        rest = asyncio.run(scenario())
        assert rest.ended and len(rest.frames) < 100
        # The stream role serves WHEP and health only.
        # The stream role serves the live routes alone: a caller with a key finds no other.
        auth = {"Authorization": f"Bearer {KEY_A}"}
        assert httpx.get(f"{stream_url}/v1/renders", headers=auth).status_code == 404
    finally:
        stream.stop()
        client.post(f"/v1/renders/{job_id}/cancel")
