"""Prometheus metrics of the API and of a worker, scraped before and after real renders."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from avatar_render_client import AvatarRenderClient, Job

from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import answers_200, wait_until
from tests.conftest import SAMPLE_PORTRAIT
from tests.scrape import Samples, scrape
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.integration

METRICS_DB = 4
API_KEY = "metrics-key-0123456789"
SMALL = {"size": 256, "duration_ms": 400, "fps": 25}  # 10 frames
QUEUES = ("render.interactive", "render.batch")


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis(port=redis_server.port, db=METRICS_DB).flushdb()
    url = f"redis://127.0.0.1:{redis_server.port}/{METRICS_DB}"
    with running_stack(url, tmp_path_factory.mktemp("metrics"), f"ops:{API_KEY}") as s:
        yield s


@pytest.fixture(scope="module")
def worker_metrics_url(stack: Stack) -> str:
    port = free_port()
    stack.start_worker(
        "metrics-mock", worker_metrics_port=str(port), worker_metrics_host="127.0.0.1"
    )
    url = f"http://127.0.0.1:{port}/metrics"
    wait_until(lambda: answers_200(url), 30, "the worker's metrics port answering")
    stack.start_api()
    return url


def _render(stack: Stack, emotion: str) -> Job:
    with AvatarRenderClient(stack.api_url, API_KEY) as client:
        character = client.register_character(SAMPLE_PORTRAIT)
        job = client.submit({"character_id": character.id, "emotion": emotion, **SMALL})
        return client.wait(job.id, timeout_s=120)


def _moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return after.get(name, **labels) - before.get(name, **labels)


def test_a_render_moves_the_api_and_worker_metrics(stack: Stack, worker_metrics_url: str) -> None:
    api_metrics = f"{stack.api_url}/metrics"
    api_before, worker_before = scrape(api_metrics), scrape(worker_metrics_url)

    final = _render(stack, "happy")
    assert final.status == "succeeded"
    api_after, worker_after = scrape(api_metrics), scrape(worker_metrics_url)

    requests = "avatar_render_api_requests_total"
    assert (
        _moved(api_before, api_after, requests, method="POST", route="/v1/renders", status="202")
        == 1
    )
    polls = _moved(
        api_before, api_after, requests, method="GET", route="/v1/renders/{job_id}", status="200"
    )
    assert polls >= 1
    latency = "avatar_render_api_request_duration_seconds_count"
    assert _moved(api_before, api_after, latency, method="POST", route="/v1/characters") == 1
    assert _moved(api_before, api_after, "avatar_render_jobs", status="succeeded") == 1
    assert api_after.get("avatar_render_jobs", status="queued") == 0
    assert api_after.get("avatar_render_job_store_up") == 1
    for queue in QUEUES:
        assert api_after.has("avatar_render_queue_depth", queue=queue)

    assert _moved(worker_before, worker_after, "avatar_render_worker_frames_rendered_total") == 10
    assert _moved(worker_before, worker_after, "avatar_render_worker_frame_seconds_count") == 10
    assert _moved(worker_before, worker_after, "avatar_render_worker_frame_seconds_sum") > 0
    attempts = "avatar_render_worker_attempts_total"
    assert _moved(worker_before, worker_after, attempts, outcome="succeeded") == 1
    assert _moved(worker_before, worker_after, attempts, outcome="failed") == 0
    prepared = "avatar_render_worker_sources_prepared_total"
    assert sum(_moved(worker_before, worker_after, prepared, cache=c) for c in ("hit", "miss")) == 1
    assert worker_after.has("avatar_render_worker_model_load_seconds")
    assert worker_after.get("avatar_render_worker_gpu_memory_allocated_bytes") == 0  # no torch
    assert worker_after.get("process_resident_memory_bytes") > 0


def test_unknown_paths_share_one_route_label(stack: Stack, worker_metrics_url: str) -> None:
    for path in ("/no/such/page", "/another/missing/page"):
        assert httpx.get(f"{stack.api_url}{path}", timeout=5.0).status_code == 404
    samples = scrape(f"{stack.api_url}/metrics")
    routes = {
        dict(labels)["route"]
        for name, labels in samples.values
        if name == "avatar_render_api_requests_total"
    }
    assert "<unmatched>" in routes and not any("missing" in route for route in routes)


def test_waiting_jobs_show_as_queue_depth_and_age(stack: Stack, worker_metrics_url: str) -> None:
    for worker in stack.workers:
        worker.stop()  # nobody consumes: the next job waits in the broker queue
    final_batch = _submit_without_waiting(stack, priority="batch")
    time.sleep(1.1)
    samples = scrape(f"{stack.api_url}/metrics")
    assert samples.get("avatar_render_queue_depth", queue="render.batch") == 1
    assert samples.get("avatar_render_queue_depth", queue="render.interactive") == 0
    assert samples.get("avatar_render_jobs", status="queued") == 1
    assert samples.get("avatar_render_oldest_queued_job_age_seconds") >= 1.0
    assert final_batch.status == "queued"


def _submit_without_waiting(stack: Stack, priority: str) -> Job:
    with AvatarRenderClient(stack.api_url, API_KEY) as client:
        character = client.register_character(SAMPLE_PORTRAIT)
        request = {"character_id": character.id, "emotion": "sad", "priority": priority}
        return client.submit({**request, **SMALL})
