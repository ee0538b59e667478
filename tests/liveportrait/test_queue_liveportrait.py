"""A LivePortrait job through the whole queue: the real API, Redis and a CPU worker process
loading the kit's synthetic weights, at size 256 (the cheap 128 px crop path)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import answers_200, wait_until
from tests.conftest import SAMPLE_PORTRAIT
from tests.scrape import scrape
from tests.stack import Stack, running_stack, wait_for_job
from tests.videos import write_video
from workers.renderers.liveportrait.fingerprint import weights_fingerprint

pytestmark = pytest.mark.integration

SOURCES = "avatar_render_worker_sources_prepared_total"


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(
    redis_server: LocalRedis,
    tmp_path_factory: pytest.TempPathFactory,
    synthetic_weights_dir: Path,
    metrics_port: int,
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("lp_queue")
    with running_stack(
        redis_server.url,
        root,
        renderer="liveportrait",
        weights_dir=str(synthetic_weights_dir),
        device="cpu",
    ) as running:
        running.start_worker(
            "lp-cpu", worker_metrics_port=str(metrics_port), worker_metrics_host="127.0.0.1"
        )
        running.start_api()
        yield running


def _render(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/renders", json=body)
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["id"], timeout_s=600)
    assert job["status"] == "succeeded", job
    manifest: dict[str, Any] = client.get(f"/v1/renders/{job['id']}/manifest").json()
    return manifest


@pytest.mark.timeout(300)  # the worker's first job includes its start: torch, weights, warm-up
def test_a_liveportrait_job_through_the_queue(
    stack: Stack, synthetic_weights_dir: Path, metrics_port: int
) -> None:
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    wait_until(lambda: answers_200(metrics), 30, "the worker's metrics port answering")
    with httpx.Client(base_url=stack.api_url, timeout=60.0) as client:
        registered = client.post(
            "/v1/characters", files={"portrait": ("p.png", SAMPLE_PORTRAIT.read_bytes())}
        )
        assert registered.status_code == 201, registered.text
        character_id = registered.json()["id"]
        first = _render(
            client,
            {
                "character_id": character_id,
                "emotion": "happy",
                "size": 256,
                "duration_ms": 200,
                "fps": 20,
            },
        )
        assert first["frame_count"] == 4 and (first["width"], first["height"]) == (256, 256)
        renderer = first["renderer"]
        assert renderer["name"] == "liveportrait"
        assert renderer["weights_fingerprint"] == weights_fingerprint(synthetic_weights_dir)
        assert renderer["synthetic_weights"] is True
        assert renderer["device"] == "cpu fp32"
        for entry in first["frames"]:
            frame = client.get(f"/v1/renders/{first['job_id']}/frames/{entry['index']}")
            assert hashlib.sha256(frame.content).hexdigest() == entry["sha256"]
        assert first["clip"] is not None

        cache = stack.storage_dir / "characters" / character_id / "cache" / "liveportrait"
        fingerprint = renderer["weights_fingerprint"]
        # Only the crop side of the requested size (256 px frames: a 128 px crop) is prepared.
        assert sorted(p.name for p in (cache / fingerprint).iterdir()) == ["128.npz"]

        # The second render of the character takes its source from the cache: the worker
        # counts it as a hit and computes nothing.
        before = scrape(metrics)
        second = _render(
            client,
            {
                "character_id": character_id,
                "emotion": "sad",
                "size": 256,
                "duration_ms": 200,
                "fps": 5,
            },
        )
        assert second["frame_count"] == 1
        after = scrape(metrics)
        assert after.get(SOURCES, cache="hit") - before.get(SOURCES, cache="hit") == 1
        assert after.get(SOURCES, cache="miss") == before.get(SOURCES, cache="miss")


def test_a_driving_video_job_through_the_queue(stack: Stack, tmp_path: Path) -> None:
    video = write_video(tmp_path / "drive.mp4", seconds=0.5, fps=10, size=64)
    with httpx.Client(base_url=stack.api_url, timeout=60.0) as client:
        uploaded = client.post("/v1/driving-videos", files={"video": ("drive.mp4", video)})
        assert uploaded.status_code == 201, uploaded.text
        video_id = uploaded.json()["id"]
        registered = client.post(
            "/v1/characters", files={"portrait": ("p.png", SAMPLE_PORTRAIT.read_bytes())}
        )
        manifest = _render(
            client,
            {
                "character_id": registered.json()["id"],
                "driving_video_id": video_id,
                "size": 256,
                "duration_ms": 200,
                "fps": 10,
            },
        )
    assert manifest["frame_count"] == 2 and manifest["renderer"]["name"] == "liveportrait"
    fingerprint = manifest["renderer"]["weights_fingerprint"]
    motion = stack.storage_dir / "driving_videos" / video_id / "cache" / "liveportrait"
    assert (motion / f"{fingerprint}.npz").is_file()
