"""Submissions, reads and state moves through the real app in this process (fast tier)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis

from tests.api.conftest import KEY_B, ClientFactory, queued_messages
from tests.conftest import SAMPLE_PORTRAIT

pytestmark = pytest.mark.anyio

SMALL = {"size": 256, "duration_ms": 400, "fps": 10}


async def register(client: httpx.AsyncClient) -> dict[str, Any]:
    files = {"portrait": ("p.png", SAMPLE_PORTRAIT.read_bytes(), "image/png")}
    response = await client.post("/v1/characters", files=files, data={"name": "astronaut"})
    assert response.status_code == 201, response.text
    character: dict[str, Any] = response.json()
    return character


async def submit(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post("/v1/renders", json=body, headers=headers)


async def test_a_submission_stores_a_queued_job_and_sends_one_message(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    character = await register(client)
    response = await submit(client, {"character_id": character["id"], "emotion": "happy", **SMALL})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/renders/{job['id']}"
    assert job["status"] == "queued" and job["progress"] == {"frames_done": 0, "frames_total": 4}
    assert queued_messages(redis_client) == 1
    again = await client.get(f"/v1/renders/{job['id']}")
    assert again.json() == job


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"emotion": "bored"}, "emotion"),
        ({"intensity": 1.5}, "intensity"),
        ({"fps": "fast"}, "fps"),
        ({"colour": "red"}, "colour"),
        ({"driving_video_id": "v1"}, "driving_video_id"),
        ({"quality": 80}, "quality"),
        # wrong types are refused, not converted
        ({"intensity": True}, "intensity"),
        ({"intensity": "0.5"}, "intensity"),
        ({"duration_ms": "2000"}, "duration_ms"),
        ({"duration_ms": 2000.0}, "duration_ms"),
        ({"size": 256.0}, "size"),
        ({"cache": "yes"}, "cache"),
        ({"controls": {"smile": "0.5"}}, "smile"),
    ],
)
async def test_bad_requests_are_422_and_send_nothing(
    client: httpx.AsyncClient, redis_client: redis.Redis, change: dict[str, Any], field: str
) -> None:
    character = await register(client)
    response = await submit(client, {"character_id": character["id"], "emotion": "sad", **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"] or "exactly one" in error["message"]
    assert (await client.get("/v1/renders")).json()["jobs"] == []
    assert queued_messages(redis_client) == 0


async def test_a_number_that_is_not_finite_is_422(client: httpx.AsyncClient) -> None:
    character = await register(client)
    body = f'{{"character_id": "{character["id"]}", "emotion": "sad", "intensity": NaN}}'
    response = await client.post(
        "/v1/renders", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "intensity" in response.json()["error"]["message"]
    assert (await client.get("/v1/renders")).json()["jobs"] == []


async def test_auth_and_tenants(client_for: ClientFactory) -> None:
    async with client_for(None) as anonymous, client_for("wrong") as stranger:
        assert (await anonymous.get("/v1/renders")).status_code == 401
        assert (await stranger.get("/v1/renders")).json()["error"]["code"] == "unauthorized"
    async with client_for() as a, client_for(KEY_B) as b:
        character = await register(a)
        job = (await submit(a, {"character_id": character["id"], "emotion": "sad"})).json()
        assert (await b.get(f"/v1/renders/{job['id']}")).status_code == 404
        assert (await b.post(f"/v1/renders/{job['id']}/cancel")).status_code == 404
        refused = await submit(b, {"character_id": character["id"], "emotion": "sad"})
        assert refused.json()["error"]["code"] == "character_not_found"
        assert (await b.get("/v1/renders")).json()["jobs"] == []


async def test_cancel_a_queued_job_then_retry_it_as_a_new_message(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    character = await register(client)
    job = (await submit(client, {"character_id": character["id"], "emotion": "angry"})).json()
    cancelled = (await client.post(f"/v1/renders/{job['id']}/cancel")).json()
    assert cancelled["status"] == "cancelled"
    outputs = await client.get(f"/v1/renders/{job['id']}/manifest")
    assert outputs.status_code == 409
    retried = await client.post(f"/v1/renders/{job['id']}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    # No worker beats here, so the broker holds one message, the first one (revoked): the
    # retried job waits in its tenant's fair queue, behind it.
    assert queued_messages(redis_client) == 1
    assert retried.json()["queue_position"] == 1
    again = await client.post(f"/v1/renders/{job['id']}/retry")
    assert again.status_code == 409


async def test_idempotency_key_replays_and_refuses_another_body(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    character = await register(client)
    body = {"character_id": character["id"], "emotion": "happy"}
    first = await submit(client, body, **{"Idempotency-Key": "k1"})
    second = await submit(client, body, **{"Idempotency-Key": "k1"})
    assert first.json()["id"] == second.json()["id"]
    assert queued_messages(redis_client) == 1
    other = await submit(client, {**body, "intensity": 0.1}, **{"Idempotency-Key": "k1"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_batch_is_all_or_nothing_and_lists_newest_first(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    character = await register(client)
    good = {"character_id": character["id"], "emotion": "happy"}
    refused = await client.post(
        "/v1/renders/batch", json={"requests": [good, {**good, "character_id": "nobody"}]}
    )
    assert refused.status_code == 404 and queued_messages(redis_client) == 0
    emotions = ["happy", "sad", "angry", "surprised", "fearful"]
    batch = await client.post(
        "/v1/renders/batch", json={"requests": [{**good, "emotion": e} for e in emotions]}
    )
    assert batch.status_code == 202
    ids = [job["id"] for job in batch.json()["jobs"]]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/renders", params=params)).json()
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    # Without a live worker one message waits in the broker; the others wait their turn in
    # the tenant's fair queue, in order.
    assert queued_messages(redis_client) == 1
    views = [(await client.get(f"/v1/renders/{job_id}")).json() for job_id in ids]
    assert [view["queue_position"] for view in views] == list(range(len(emotions)))


async def test_health_ready_metrics_and_schema(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 503  # no worker heartbeats in this tier
    metrics = await client.get("/metrics")
    assert "avatar_render_jobs" in metrics.text
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/renders" in schema["paths"]
