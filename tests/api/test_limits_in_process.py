"""Tenant limits and admission through the real app in this process (fast tier): the queue
cap, the rate limit (a batch counts as its size, refused whole), the interactive wait
limit, Retry-After, the per-tenant counters, and the OpenAPI document of all three."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from producer_api.app import create_app
from render_core.heartbeats import WorkerBeat, beat
from render_core.job_times import durations_key
from render_core.schema import Priority
from render_core.settings import Settings
from tests.api.conftest import KEY_A, KEY_B, ClientFactory
from tests.api.test_renders_in_process import SMALL, register
from tests.scrape import parse_samples as parse

pytestmark = pytest.mark.anyio


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """The API tests' settings with tight limits for both tenants."""
    limits = {"tenant_limits": "tenant-a:queued=3;tenant-b:rate=1/s", "max_interactive_wait_s": 15}
    return Settings.model_validate({**api_settings.model_dump(), **limits})


@pytest.fixture
def app(api_settings: Settings) -> FastAPI:
    return create_app(api_settings)


async def _batch(client: httpx.AsyncClient, body: dict[str, Any], count: int) -> httpx.Response:
    return await client.post("/v1/renders/batch", json={"requests": [body] * count})


async def test_the_queue_cap_counts_queued_and_running_and_refuses_a_batch_whole(
    client: httpx.AsyncClient,
) -> None:
    body = {"character_id": (await register(client))["id"], "emotion": "sad", **SMALL}
    assert (await _batch(client, body, 2)).status_code == 202
    refused = await _batch(client, body, 2)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "queue_full"
    assert int(refused.headers["Retry-After"]) >= 1
    assert len((await client.get("/v1/renders")).json()["jobs"]) == 2  # nothing of it made
    assert (await client.post("/v1/renders", json=body)).status_code == 202
    assert (await client.post("/v1/renders", json=body)).json()["error"]["code"] == "queue_full"
    first = (await client.get("/v1/renders")).json()["jobs"][-1]
    await client.post(f"/v1/renders/{first['id']}/cancel")  # a cancelled job frees its place
    assert (await client.post("/v1/renders", json=body)).status_code == 202


async def test_the_rate_limit_takes_a_batch_as_its_size(client_for: ClientFactory) -> None:
    async with client_for(KEY_B) as b:
        body = {"character_id": (await register(b))["id"], "emotion": "sad", **SMALL}
        assert (await _batch(b, body, 100)).status_code == 202  # the whole burst at once
        refused = await b.post("/v1/renders", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 2  # one token a second
        assert len((await b.get("/v1/renders", params={"limit": 100})).json()["jobs"]) == 100
    async with client_for(KEY_A) as a:  # another tenant has its own bucket
        body = {"character_id": (await register(a))["id"], "emotion": "sad", **SMALL}
        assert (await a.post("/v1/renders", json=body)).status_code == 202


async def test_an_interactive_job_that_would_wait_too_long_is_refused(
    client_for: ClientFactory, redis_client: redis.Redis, api_settings: Settings
) -> None:
    queues = ["render.interactive", "render.batch"]
    beat(redis_client, WorkerBeat(hostname="w@h", renderer="mock", queues=queues, pid=1))
    redis_client.lpush(durations_key(Priority.interactive), "10.0")  # a job takes 10 s
    async with client_for(KEY_B) as b:
        # not cached: identical renders would wait for the first one instead of a worker
        character = (await register(b))["id"]
        body = {"character_id": character, "emotion": "sad", "cache": False, **SMALL}
        first = (await b.post("/v1/renders", json=body)).json()
        assert (first["queue_position"], first["estimated_start_s"]) == (0, 0.0)
        second = (await b.post("/v1/renders", json=body)).json()
        assert (second["queue_position"], second["estimated_start_s"]) == (1, 10.0)
        refused = await b.post("/v1/renders", json=body)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "overloaded"
        assert int(refused.headers["Retry-After"]) == 5  # 20 s expected, 15 s allowed
        batch = await b.post("/v1/renders", json={**body, "priority": "batch"})
        assert batch.status_code == 202 and batch.json()["queue_position"] == 2
        view = (await b.get(f"/v1/renders/{second['id']}")).json()
        assert view["queue_position"] == 1 and view["estimated_start_s"] == 10.0


async def test_refusals_are_counted_per_tenant_and_unknown_tenants_are_other(
    client: httpx.AsyncClient, client_for: ClientFactory, redis_client: redis.Redis
) -> None:
    body = {"character_id": (await register(client))["id"], "emotion": "sad", **SMALL}
    await _batch(client, body, 3)
    await _batch(client, body, 2)
    redis_client.sadd("ar:stats:tenants", "gone")
    redis_client.hincrby("ar:stats:tenant:gone", "rejected:rate_limited", 7)
    samples = parse((await client.get("/metrics")).text)
    rejected = "avatar_render_tenant_rejected_total"
    assert samples.get(rejected, tenant="tenant-a", reason="queue_full") == 2
    assert samples.get(rejected, tenant="other", reason="rate_limited") == 7
    assert samples.get("avatar_render_tenant_jobs", tenant="tenant-a", status="queued") == 3
    assert samples.has("avatar_render_tenant_jobs", tenant="tenant-b", status="running")
    assert not samples.has(rejected, tenant="gone", reason="rate_limited")


async def test_the_submit_routes_document_429_and_503_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/v1/renders", "/v1/renders/batch"):
        responses = paths[path]["post"]["responses"]
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"], (path, status)
        assert "queue_full" in responses["429"]["description"]
        assert "overloaded" in responses["503"]["description"]
