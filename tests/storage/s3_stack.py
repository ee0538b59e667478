"""A stack (API and mock worker processes) whose object storage is a bucket on a real SeaweedFS.

Credentials reach the child processes the way they do in production: the standard AWS_*
variables, with no profile or config file of this machine in the way.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from render_cli.processes import wait_until
from tests.seaweed import SeaweedServer
from tests.stack import CLI, Stack, register_portrait, running_stack, wait_for_job

STORE_PREFIX = "prod"
# A render that is over in well under a second on an undelayed mock worker: 5 frames.
SMALL_RENDER = {"emotion": "happy", "size": 256, "duration_ms": 200, "fps": 25}
CLI_TIMEOUT_S = 60.0


def aws_env(access_key: str, secret_key: str, scratch: Path) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
    }


def new_bucket(server: SeaweedServer) -> str:
    name = f"render-{uuid.uuid4().hex[:12]}"
    server.admin_client().create_bucket(Bucket=name)
    return name


def s3_settings(server: SeaweedServer, bucket: str) -> dict[str, str]:
    """RENDER_* settings for the bucket; clients reach the server as ``localhost``."""
    return {
        "storage_url": f"s3://{bucket}/{STORE_PREFIX}",
        "s3_endpoint_url": server.endpoint_url,
        "s3_public_url": f"http://localhost:{server.s3_port}",
    }


@contextmanager
def running_s3_stack(
    redis_url: str,
    root: Path,
    server: SeaweedServer,
    bucket: str,
    credentials: tuple[str, str],
    **settings: str,
) -> Iterator[Stack]:
    """``running_stack`` on the bucket; every child finds the key pair in AWS_* variables."""
    with running_stack(redis_url, root, **s3_settings(server, bucket), **settings) as stack:
        stack.env.update(aws_env(*credentials, root))
        yield stack


def api_client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=30.0)


def register(client: httpx.Client) -> str:
    return str(register_portrait(client)["id"])


def submit(client: httpx.Client, character_id: str, **request: Any) -> str:
    response = client.post(
        "/v1/renders", json={"character_id": character_id, **SMALL_RENDER, **request}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def render(client: httpx.Client, character_id: str, **request: Any) -> dict[str, Any]:
    """Submit one render and wait for it to succeed."""
    job = wait_for_job(client, submit(client, character_id, **request), timeout_s=60)
    assert job["status"] == "succeeded", job
    return job


def wait_for_job_state(
    client: httpx.Client,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    what: str,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Poll the API until ``until(job)`` holds; return the job then."""
    seen: list[dict[str, Any]] = []

    def holds() -> bool:
        job: dict[str, Any] = client.get(f"/v1/renders/{job_id}").json()
        seen[:] = [job]
        return until(job)

    wait_until(holds, timeout_s, what, poll_s=0.05)
    return seen[0]


def mid_render(job: dict[str, Any]) -> bool:
    return bool(job["status"] == "running" and job["progress"]["frames_done"] > 0)


def stored_objects(server: SeaweedServer, bucket: str, job_id: str) -> dict[str, int]:
    """Key (without the store prefix) to size of every object under the job's prefix."""
    listing = server.admin_client().list_objects_v2(
        Bucket=bucket, Prefix=f"{STORE_PREFIX}/renders/{job_id}/"
    )
    return {
        item["Key"].removeprefix(f"{STORE_PREFIX}/"): int(item["Size"])
        for item in listing.get("Contents", [])
    }


def run_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``avatar-render ARGS`` as an operator runs it, with the stack's environment."""
    return subprocess.run(
        [*CLI, *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
