"""Records always read back: refused at write time when they would not, and one damaged
record in Redis never breaks a listing or the metrics (fast tier, real Redis)."""

from __future__ import annotations

import math

import httpx
import pytest
import redis

from producer_api.driving_videos import DrivingVideo, DrivingVideoStore
from render_core.errors import UnstorableRecord
from render_core.jobs import JobStore
from render_core.records import UNREADABLE_KEY
from render_core.schema import JobRecord, RenderRequest
from tests.api.test_renders_in_process import SMALL, register, submit
from tests.scrape import parse_samples

pytestmark = pytest.mark.anyio


def corrupt_job(client: redis.Redis, job_id: str, tenant: str, status: str, score: int) -> None:
    """A damaged job record, with the index entries a real one would have."""
    client.set(f"ar:job:{job_id}", '{"id": "' + job_id + '", "tenant": 7, "request": [')
    client.zadd(f"ar:tenant:{tenant}:jobs", {job_id: score})
    client.zadd(f"ar:tenant:{tenant}:jobs:{status}", {job_id: score})
    client.zadd(f"ar:status:{status}", {job_id: score})


async def test_a_number_that_is_not_json_is_refused_not_stored_as_null(
    client: httpx.AsyncClient,
) -> None:
    character = await register(client)
    body = '{"character_id": "%s", "emotion": "sad", "metadata": {"x": Infinity}}'
    response = await client.post(
        "/v1/renders",
        content=body % character["id"],
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert (await client.get("/v1/renders")).json()["jobs"] == []


def test_a_job_that_would_not_read_back_is_refused_and_nothing_is_stored(
    redis_client: redis.Redis,
) -> None:
    request = RenderRequest.model_construct(
        **{**RenderRequest(character_id="c", emotion="sad").__dict__, "intensity": 5.0}
    )
    good = JobRecord(id="good", tenant="t", request=RenderRequest(character_id="c", emotion="sad"))
    bad = JobRecord.model_construct(**{**good.__dict__, "id": "bad", "request": request})
    jobs = JobStore(redis_client)
    with pytest.raises(UnstorableRecord):
        jobs.create([good, bad])
    assert redis_client.keys("ar:job:*") == []  # all or nothing
    facts = {"container": "mp4", "codec": "h264", "duration_ms": 1, "frame_count": 1}
    video = DrivingVideo.model_construct(
        **{
            **DrivingVideo(
                **facts,
                fps=1.0,
                width=1,
                height=1,
                id="v",
                tenant="t",
                video_key="k",
                video_sha256="s",
                size_bytes=1,
            ).__dict__,
            "fps": -math.inf,
        }
    )
    with pytest.raises(UnstorableRecord):
        DrivingVideoStore(redis_client).save(video)
    assert not redis_client.exists("ar:driving_video:v")


async def test_one_damaged_record_is_skipped_by_listings_and_counted_by_metrics(
    client: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    character = await register(client)
    first = await submit(client, {"character_id": character["id"], "emotion": "sad", **SMALL})
    second = await submit(client, {"character_id": character["id"], "emotion": "sad", **SMALL})
    # Damaged records in the middle of the page and as the oldest queued job.
    corrupt_job(redis_client, "damaged", "tenant-a", "queued", score=0)
    score = int(redis_client.zscore("ar:tenant:tenant-a:jobs", first.json()["id"]) or 0)
    corrupt_job(redis_client, "damaged2", "tenant-a", "queued", score=score)

    listing = await client.get("/v1/renders")
    assert listing.status_code == 200, listing.text
    assert [job["id"] for job in listing.json()["jobs"]] == [
        second.json()["id"],
        first.json()["id"],
    ]
    queued = await client.get("/v1/renders", params={"status": "queued", "limit": 1})
    assert queued.status_code == 200 and len(queued.json()["jobs"]) == 1
    one = await client.get("/v1/renders/damaged")
    assert one.status_code == 500 and one.json()["error"]["code"] == "unreadable_record"

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    samples = parse_samples(scrape.text)
    assert samples.get("avatar_render_job_store_up") == 1
    assert samples.get("avatar_render_unreadable_records", kind="job") == 2
    assert samples.get("avatar_render_oldest_queued_job_age_seconds") < 60
    assert set(redis_client.hkeys(UNREADABLE_KEY)) == {"ar:job:damaged", "ar:job:damaged2"}

    redis_client.delete("ar:job:damaged", "ar:job:damaged2")  # an operator removed them
    samples = parse_samples((await client.get("/metrics")).text)
    assert samples.get("avatar_render_unreadable_records", kind="job") == 0
