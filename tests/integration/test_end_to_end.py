"""The whole path over real HTTP: uvicorn, a Celery worker process, Redis and local storage."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from tests.conftest import SAMPLE_PORTRAIT, child_env
from tests.stack import Stack, register_portrait, running_stack, wait_for_job
from tests.unit.test_portraits import animated_gif, png_bytes, png_claiming

pytestmark = pytest.mark.integration

KEY_A, KEY_B = "key-a-0123456789", "key-b-9876543210"
SMALL = {"size": 256, "duration_ms": 400, "fps": 25}


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("e2e")
    with running_stack(redis_server.url, root, api_keys=f"tenant-a:{KEY_A},tenant-b:{KEY_B}") as s:
        s.start_worker("e2e-mock")
        s.start_api()
        yield s


def _client(stack: Stack, key: str | None = KEY_A) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=stack.api_url, headers=headers, timeout=30.0)


def _storage_files(stack: Stack) -> set[str]:
    return {
        p.relative_to(stack.storage_dir).as_posix()
        for p in stack.storage_dir.rglob("*")
        if p.is_file()
    }


def test_all_seven_emotions_render_and_verify(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        assert (character["width"], character["height"]) == (512, 512)
        emotions = ["neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted"]
        batch = {
            "requests": [{"character_id": character["id"], "emotion": e, **SMALL} for e in emotions]
        }
        response = client.post("/v1/renders/batch", json=batch)
        assert response.status_code == 202, response.text
        jobs = response.json()["jobs"]
        assert [j["status"] for j in jobs] == ["queued"] * 7
        for job, emotion in zip(jobs, emotions, strict=True):
            final = wait_for_job(client, job["id"])
            assert final["status"] == "succeeded", final
            assert final["progress"] == {"frames_done": 10, "frames_total": 10}
            assert final["renderer"] == {"name": "mock", "version": "1"}
            manifest = client.get(f"/v1/renders/{job['id']}/manifest").json()
            assert manifest["request"]["emotion"] == emotion and manifest["frame_count"] == 10
            for entry in manifest["frames"]:
                frame = client.get(f"/v1/renders/{job['id']}/frames/{entry['index']}")
                assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
                assert hashlib.sha256(frame.content).hexdigest() == entry["sha256"]
            clip = client.get(f"/v1/renders/{job['id']}/clip.mp4")
            assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
            assert hashlib.sha256(clip.content).hexdigest() == manifest["clip"]["sha256"]
        assert client.get(f"/v1/renders/{jobs[0]['id']}/frames/10").status_code == 404


def test_metadata_is_echoed_and_listing_filters(stack: Stack) -> None:
    with _client(stack, KEY_B) as client:
        character = register_portrait(client)
        body = {
            "character_id": character["id"],
            "emotion": "happy",
            "metadata": {"scene": 7},
            **SMALL,
        }
        job = client.post("/v1/renders", json=body)
        assert (
            job.status_code == 202 and job.headers["location"] == f"/v1/renders/{job.json()['id']}"
        )
        assert wait_for_job(client, job.json()["id"])["request"]["metadata"] == {"scene": 7}
        listed = client.get("/v1/renders", params={"status": "succeeded", "limit": 100}).json()
        assert job.json()["id"] in [j["id"] for j in listed["jobs"]]
        assert client.get("/v1/renders", params={"status": "failed"}).json()["jobs"] == []


BAD_UPLOADS = {
    "truncated": (png_bytes()[:60], 415, "unsupported_image"),
    "empty": (b"", 415, "empty_file"),
    "text-named-png": (b"this is not an image\n", 415, "unsupported_image"),
    "bomb": (png_claiming(20_000, 20_000), 413, "image_too_large"),
    "animated-gif": (animated_gif(), 415, "unsupported_image"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_portraits_are_refused_and_nothing_is_written(stack: Stack, case: str) -> None:
    data, status, code = BAD_UPLOADS[case]
    before = _storage_files(stack)
    with _client(stack) as client:
        response = client.post("/v1/characters", files={"portrait": ("p.png", data, "image/png")})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert _storage_files(stack) == before


BAD_REQUESTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-emotion": ({"emotion": "bored"}, "emotion"),
    "intensity-1.5": ({"intensity": 1.5}, "intensity"),
    "duration-0": ({"duration_ms": 0}, "duration_ms"),
    "unknown-field": ({"colour": "red"}, "colour"),
    "wrong-type": ({"fps": "fast"}, "fps"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_render_requests_are_refused_and_no_job_is_created(stack: Stack, case: str) -> None:
    change, field = BAD_REQUESTS[case]
    with _client(stack) as client:
        character = register_portrait(client)
        before = client.get("/v1/renders", params={"limit": 100}).json()["jobs"]
        body = {"character_id": character["id"], "emotion": "happy", **change}
        response = client.post("/v1/renders", json=body)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and field in error["message"]
        batch = client.post(
            "/v1/renders/batch", json={"requests": [body | {"emotion": "sad"}, body]}
        )
        assert batch.status_code == 422
        assert client.get("/v1/renders", params={"limit": 100}).json()["jobs"] == before


def test_auth_is_required_and_tenants_are_apart(stack: Stack) -> None:
    with _client(stack, None) as anonymous:
        response = anonymous.get("/v1/renders")
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    with _client(stack, "wrong-key") as stranger:
        assert stranger.get("/v1/renders").status_code == 401
    with _client(stack, KEY_A) as a, _client(stack, KEY_B) as b:
        character = register_portrait(a)
        job = a.post(
            "/v1/renders", json={"character_id": character["id"], "emotion": "sad", **SMALL}
        ).json()
        assert b.get(f"/v1/characters/{character['id']}").status_code == 404
        assert b.get(f"/v1/renders/{job['id']}").status_code == 404
        assert b.post(f"/v1/renders/{job['id']}/cancel").status_code == 404
        assert b.get(f"/v1/renders/{job['id']}/manifest").status_code == 404
        theirs = b.post("/v1/renders", json={"character_id": character["id"], "emotion": "sad"})
        assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "character_not_found"
        assert job["id"] not in [j["id"] for j in b.get("/v1/renders").json()["jobs"]]
        assert wait_for_job(a, job["id"])["status"] == "succeeded"


def test_cancel_a_running_render_then_retry_it(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        long = {
            "character_id": character["id"],
            "emotion": "fearful",
            "size": 256,
            "duration_ms": 10_000,
            "fps": 60,
        }
        job = client.post("/v1/renders", json=long).json()
        deadline = time.monotonic() + 60
        while client.get(f"/v1/renders/{job['id']}").json()["progress"]["frames_done"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cancelled = client.post(f"/v1/renders/{job['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"]
        final = wait_for_job(client, job["id"])
        assert final["status"] == "cancelled" and final["progress"]["frames_done"] < 600
        assert not list((stack.storage_dir / "renders" / job["id"]).rglob("*.png"))
        assert client.get(f"/v1/renders/{job['id']}/manifest").status_code == 409
        retried = client.post(f"/v1/renders/{job['id']}/retry")
        assert retried.status_code == 202 and retried.json()["status"] == "queued"
        again = client.post(f"/v1/renders/{job['id']}/cancel")
        assert again.status_code == 200
        assert client.post(f"/v1/renders/{job['id']}/retry").status_code in (202, 409)


def test_retry_of_a_succeeded_render_is_a_conflict(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        job = client.post(
            "/v1/renders", json={"character_id": character["id"], "emotion": "happy", **SMALL}
        ).json()
        assert wait_for_job(client, job["id"])["status"] == "succeeded"
        response = client.post(f"/v1/renders/{job['id']}/retry")
        assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
        assert client.post(f"/v1/renders/{job['id']}/cancel").status_code == 409


def test_health_and_openapi(stack: Stack) -> None:
    assert httpx.get(f"{stack.api_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{stack.api_url}/readyz").status_code == 200
    spec = httpx.get(f"{stack.api_url}/openapi.json").json()
    for path in (
        "/v1/characters",
        "/v1/renders",
        "/v1/renders/batch",
        "/v1/renders/{job_id}/retry",
        "/v1/renders/{job_id}/frames/{index}",
        "/v1/renders/{job_id}/clip.mp4",
    ):
        assert path in spec["paths"], path
    assert spec["components"]["schemas"]["RenderRequest"]["examples"]


def test_cli_submit_waits_and_prints_the_outputs(stack: Stack) -> None:
    env = child_env(api_url=stack.api_url, api_key=KEY_A)
    result = subprocess.run(
        [sys.executable, "-m", "render_cli", "submit", str(SAMPLE_PORTRAIT),
         "--emotion", "sad", "--size", "256", "--duration-ms", "400"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "succeeded: manifest" in result.stdout and "/clip.mp4" in result.stdout
    job_id = result.stdout.split("job ", 1)[1].split()[0]
    # The progress bar followed the render's event stream rather than polling the job:
    # one read of the job at the end (the other is `status` below, not yet run).
    assert stack.api is not None
    api_log = stack.api.log_path.read_text()
    assert f"GET /v1/renders/{job_id}/events HTTP" in api_log
    assert api_log.count(f"GET /v1/renders/{job_id} HTTP") == 1
    status = subprocess.run(
        [sys.executable, "-m", "render_cli", "status", job_id],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 0 and '"status": "succeeded"' in status.stdout


def test_cli_explains_an_unknown_job(stack: Stack) -> None:
    env = child_env(api_url=stack.api_url, api_key=KEY_A)
    result = subprocess.run(
        [sys.executable, "-m", "render_cli", "status", "no-such-job"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "not_found" in result.stderr


def test_portrait_with_path_like_name_is_stored_under_its_id(stack: Stack) -> None:
    with _client(stack) as client:
        response = client.post(
            "/v1/characters",
            files={"portrait": ("../../etc/passwd.png", SAMPLE_PORTRAIT.read_bytes())},
        )
        assert response.status_code == 201
        assert (stack.storage_dir / "characters" / response.json()["id"] / "portrait.png").is_file()


def test_idempotency_key_returns_the_same_job(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        body = {"character_id": character["id"], "emotion": "happy", **SMALL}
        headers = {"Idempotency-Key": "order-17"}
        first = client.post("/v1/renders", json=body, headers=headers)
        second = client.post("/v1/renders", json=body, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["id"] == second.json()["id"]
        other = client.post("/v1/renders", json=body | {"emotion": "sad"}, headers=headers)
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        ids = [j["id"] for j in client.get("/v1/renders", params={"limit": 100}).json()["jobs"]]
        assert ids.count(first.json()["id"]) == 1
    with _client(stack, KEY_B) as other_tenant:  # keys are per tenant
        theirs = register_portrait(other_tenant)
        response = other_tenant.post(
            "/v1/renders", json=body | {"character_id": theirs["id"]}, headers=headers
        )
        assert response.status_code == 202 and response.json()["id"] != first.json()["id"]


def test_idempotency_key_on_a_batch(stack: Stack) -> None:
    with _client(stack) as client:
        character = register_portrait(client)
        batch = {
            "requests": [
                {"character_id": character["id"], "emotion": e, **SMALL} for e in ("sad", "angry")
            ]
        }
        headers = {"Idempotency-Key": "batch-3"}
        first = client.post("/v1/renders/batch", json=batch, headers=headers).json()["jobs"]
        again = client.post("/v1/renders/batch", json=batch, headers=headers).json()["jobs"]
        assert [j["id"] for j in first] == [j["id"] for j in again]
        changed = {"requests": batch["requests"][:1]}
        assert client.post("/v1/renders/batch", json=changed, headers=headers).status_code == 409
        for job in first:
            assert wait_for_job(client, job["id"])["status"] == "succeeded"
