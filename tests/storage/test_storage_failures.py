"""Object storage going wrong under real worker and API processes, on a SeaweedFS of our own.

The server here is private to this module because tests stop it, restart it on the same
ports and data directory, and restart it without the identity the stack signs with
(credentials gone bad). Every test leaves it running with that identity.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, wait_until
from tests.conftest import child_env
from tests.seaweed import (
    WRITER_ACCESS_KEY,
    WRITER_SECRET_KEY,
    SeaweedServer,
    running_seaweed,
)
from tests.stack import CLI, Stack, wait_for_job
from tests.storage.s3_stack import (
    STORE_PREFIX,
    api_client,
    aws_env,
    mid_render,
    new_bucket,
    register,
    render,
    run_cli,
    running_s3_stack,
    s3_settings,
    stored_objects,
    submit,
    wait_for_job_state,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 20.0
START_UP_TIMEOUT_S = 60.0
GC = ("storage", "gc", "--older-than", "2s")
OUTPUT_PATHS = ("manifest", "frames/0", "clip.mp4")
# Celery's jitter (random.randrange) refuses a backoff that is not a whole number of seconds.
WHOLE_SECOND_BACKOFF = "1"


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """Private, so that ``storage gc`` sees only this module's jobs."""
    server = LocalRedis(data_dir=tmp_path_factory.mktemp("failures-redis"))
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def own_seaweed(
    weed_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeaweedServer]:
    with running_seaweed(weed_binary, tmp_path_factory.mktemp("failures-seaweed")) as server:
        yield server


@dataclass
class Servers:
    """This module's Redis, SeaweedFS and bucket, and stacks on them."""

    redis: LocalRedis
    seaweed: SeaweedServer
    bucket: str

    @contextmanager
    def stack(self, root: Path, worker: str, **settings: str) -> Iterator[Stack]:
        """A mock worker, then the API (ready only once a worker is up), with RENDER_*
        overrides; both sign as the revocable writer."""
        with running_s3_stack(
            self.redis.url,
            root,
            self.seaweed,
            self.bucket,
            (WRITER_ACCESS_KEY, WRITER_SECRET_KEY),
            **settings,
        ) as stack:
            stack.start_worker(worker)
            stack.start_api()
            yield stack


@pytest.fixture(scope="module")
def servers(own_redis: LocalRedis, own_seaweed: SeaweedServer) -> Servers:
    return Servers(own_redis, own_seaweed, new_bucket(own_seaweed))


def test_a_storage_outage_mid_render_is_retried_until_the_server_is_back(
    servers: Servers, tmp_path: Path
) -> None:
    with (
        servers.stack(
            tmp_path,
            "outage",
            mock_frame_delay_s="0.1",
            frame_batch_size="2",
            max_attempts="30",
            retry_backoff_s=WHOLE_SECOND_BACKOFF,
            retry_backoff_max_s="2",
        ) as stack,
        api_client(stack) as client,
    ):
        job_id = submit(client, register(client), duration_ms=1200)  # 30 frames, about 3 s
        wait_for_job_state(client, job_id, mid_render, "the render in progress")
        servers.seaweed.stop()
        stopped_at = time.monotonic()
        try:
            during = wait_for_job_state(
                client,
                job_id,
                lambda job: job["attempts"] >= 2,
                "a retry after the storage error",
                timeout_s=OUTAGE_S,
            )
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
            still_waiting = client.get(f"/v1/renders/{job_id}").json()
        finally:
            servers.seaweed.start()
        final = wait_for_job(client, job_id, timeout_s=90)
        verified = run_cli(stack, "storage", "verify", job_id)

    assert during["error"]["code"] == "storage_unavailable"
    assert during["error"]["retryable"] is True
    assert still_waiting["status"] in ("queued", "running")
    assert final["status"] == "succeeded", final
    assert final["attempts"] >= 2 and final["error"] is None
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_revoked_credentials_fail_the_job_and_a_manual_retry_succeeds_once_fixed(
    servers: Servers, tmp_path: Path
) -> None:
    # The worker starts while its credentials are good (its start-up check passes) ...
    with (
        servers.stack(
            tmp_path,
            "revoked",
            max_attempts="3",
            retry_backoff_s=WHOLE_SECOND_BACKOFF,
            retry_backoff_max_s=WHOLE_SECOND_BACKOFF,
        ) as stack,
        api_client(stack) as client,
    ):
        character = register(client)
        try:
            # ... then the server forgets its key, as after a key rotation gone wrong.
            servers.seaweed.restart(writer_enabled=False)
            failed = wait_for_job(client, submit(client, character), timeout_s=60)
        finally:
            servers.seaweed.restart()
        retried = client.post(f"/v1/renders/{failed['id']}/retry")
        final = wait_for_job(client, failed["id"], timeout_s=60)

    assert failed["status"] == "failed"
    assert failed["attempts"] == 3
    assert failed["error"]["code"] == "storage_unavailable"
    assert "InvalidAccessKeyId" in failed["error"]["message"]
    assert retried.status_code == 202, retried.text
    assert final["status"] == "succeeded", final
    assert final["attempts"] == 4


def test_api_and_worker_refuse_to_start_on_a_missing_bucket_or_wrong_credentials(
    servers: Servers, tmp_path: Path
) -> None:
    where = f"at {servers.seaweed.endpoint_url}"
    faults = {
        "missing-bucket": (
            s3_settings(servers.seaweed, "no-such-bucket"),
            aws_env(WRITER_ACCESS_KEY, WRITER_SECRET_KEY, tmp_path),
            f"S3 bucket 'no-such-bucket' {where} does not exist",
        ),
        "wrong-credentials": (
            s3_settings(servers.seaweed, servers.bucket),
            aws_env(WRITER_ACCESS_KEY, "not-the-secret-0123456789", tmp_path),
            f"S3 bucket '{servers.bucket}' {where} refused our credentials to read",
        ),
    }
    roles = {
        "api": ["api", "--host", "127.0.0.1", "--port", str(free_port())],
        "worker": ["worker", "--name", "refused"],
    }
    processes = {
        (fault, role): ManagedProcess(
            [*CLI, *args],
            {**child_env(redis_url=servers.redis.url, **settings), **credentials},
            tmp_path / f"{fault}-{role}.log",
        )
        for fault, (settings, credentials, _) in faults.items()
        for role, args in roles.items()
    }
    try:
        wait_until(
            lambda: not any(p.alive() for p in processes.values()),
            START_UP_TIMEOUT_S,
            "every process exiting",
        )
    finally:
        for process in processes.values():
            process.stop()

    for (fault, role), process in processes.items():
        output = process.log_tail()
        assert process.process.returncode == 1, f"{fault} {role}:\n{output}"
        assert f"error [configuration_error]: {faults[fault][2]}" in output, output


@pytest.fixture(scope="class")
def operator_stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Slow enough frames that a render can be caught in flight; gone when the class ends."""
    root = tmp_path_factory.mktemp("operator")
    with servers.stack(root, "operator", mock_frame_delay_s="0.05", frame_batch_size="2") as s:
        yield s


class TestOperatorCommands:
    """``storage verify`` and ``storage gc`` share one stack."""

    def test_verify_names_objects_deleted_or_changed_behind_our_back(
        self, operator_stack: Stack, servers: Servers
    ) -> None:
        with api_client(operator_stack) as client:
            job = render(client, register(client))
            manifest = client.get(f"/v1/renders/{job['id']}/manifest").json()
        intact = run_cli(operator_stack, "storage", "verify", job["id"])
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert f"render {job['id']}: all 7 objects match the manifest" in intact.stdout

        admin = servers.seaweed.admin_client()
        deleted, shortened, clip = manifest["frames"][1], manifest["frames"][3], manifest["clip"]
        same_size = bytes(clip["size"])  # as long as the clip, other bytes
        admin.delete_object(Bucket=servers.bucket, Key=f"{STORE_PREFIX}/{deleted['key']}")
        for key, body in ((shortened["key"], b"short"), (clip["key"], same_size)):
            admin.put_object(Bucket=servers.bucket, Key=f"{STORE_PREFIX}/{key}", Body=body)
        broken = run_cli(operator_stack, "storage", "verify", job["id"])

        assert broken.returncode == 1
        same_size_sha256 = hashlib.sha256(same_size).hexdigest()
        assert broken.stdout.splitlines() == [
            f"missing\t{deleted['key']}",
            f"size\t{shortened['key']}\t5 bytes, manifest says {shortened['size']}",
            f"sha256\t{clip['key']}\t{same_size_sha256}, manifest says {clip['sha256']}",
        ]
        assert f"render {job['id']}: 3 of 7 objects do not match" in broken.stderr

    def test_gc_expires_finished_renders_past_retention_and_spares_running_ones(
        self, operator_stack: Stack, servers: Servers
    ) -> None:
        with api_client(operator_stack) as client:
            character = register(client)
            # Rendered, not a cache hit of an earlier test's identical clip.
            old = render(client, character, cache=False)["id"]
            old_objects = stored_objects(servers.seaweed, servers.bucket, old)
            time.sleep(2.1)  # past the retention
            running = submit(client, character, duration_ms=10_000)  # 250 frames, over 12 s
            wait_for_job_state(client, running, mid_render, "the render in progress")

            dry_run = run_cli(operator_stack, *GC, "--dry-run")
            after_dry_run = stored_objects(servers.seaweed, servers.bucket, old)
            still_served = client.get(f"/v1/renders/{old}/frames/0")
            running_before_gc = stored_objects(servers.seaweed, servers.bucket, running)
            gc = run_cli(operator_stack, *GC)
            running_after_gc = stored_objects(servers.seaweed, servers.bucket, running)
            running_status = client.get(f"/v1/renders/{running}").json()["status"]
            after_gc = stored_objects(servers.seaweed, servers.bucket, old)
            gone = {path: client.get(f"/v1/renders/{old}/{path}") for path in OUTPUT_PATHS}
            old_record = client.get(f"/v1/renders/{old}").json()
            client.post(f"/v1/renders/{running}/cancel")  # no need to wait for the rest
            wait_for_job(client, running, timeout_s=30)

        assert len(old_objects) == 7  # 5 frames, the clip, the manifest
        assert dry_run.returncode == 0, dry_run.stderr
        assert f"{old}\tsucceeded\t" in dry_run.stdout and "would delete 7" in dry_run.stdout
        assert "nothing changed" in dry_run.stdout
        assert after_dry_run == old_objects and still_served.status_code == 307

        assert gc.returncode == 0, gc.stderr
        assert f"{old}\tsucceeded\t" in gc.stdout and "deleted 7" in gc.stdout
        assert after_gc == {}
        assert old_record["outputs_expired"] is True
        for path, response in gone.items():
            assert response.status_code == 410, path
            assert response.json()["error"]["code"] == "outputs_expired"

        assert running_status == "running"
        assert running not in dry_run.stdout + gc.stdout
        assert running_before_gc and running_before_gc.items() <= running_after_gc.items()
