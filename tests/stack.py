"""A running stack for end-to-end tests: real Celery worker and uvicorn processes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from render_cli.local_redis import free_port
from render_cli.processes import ManagedProcess, answers_200, wait_until
from render_core.queue import make_celery
from render_core.settings import Settings
from tests.conftest import SAMPLE_PORTRAIT, child_env

CLI = [sys.executable, "-m", "render_cli"]


@dataclass
class Stack:
    api_url: str
    settings: Settings
    storage_dir: Path
    env: dict[str, str]
    logs: Path
    workers: list[ManagedProcess] = field(default_factory=list)
    api: ManagedProcess | None = None
    dispatchers: list[ManagedProcess] = field(default_factory=list)

    def start_worker(self, name: str, *extra: str, **env: str) -> ManagedProcess:
        worker = ManagedProcess(
            [*CLI, "worker", "--name", name, "--loglevel", "INFO", *extra],
            {**self.env, **{f"RENDER_{k.upper()}": v for k, v in env.items()}},
            self.logs / f"worker-{name}.log",
        )
        self.workers.append(worker)
        wait_for_worker(self.settings, name, worker)
        return worker

    def start_api(self, probe: str = "/readyz", **env: str) -> ManagedProcess:
        """The API, up once ``probe`` answers 200 (``/readyz`` needs a worker first;
        ``/healthz`` does not)."""
        port = int(self.api_url.rsplit(":", 1)[1])
        self.api = ManagedProcess(
            [*CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
            {**self.env, **{f"RENDER_{k.upper()}": v for k, v in env.items()}},
            self.logs / "api.log",
        )
        wait_until(lambda: answers_200(f"{self.api_url}{probe}"), 60, f"the API answering {probe}")
        return self.api

    def start_dispatcher(self, name: str = "dispatcher", **env: str) -> ManagedProcess:
        """The webhook dispatcher (``avatar-render webhooks``), up once its heartbeat is."""
        dispatcher = ManagedProcess(
            [*CLI, "webhooks", "--name", name],
            {**self.env, **{f"RENDER_{k.upper()}": v for k, v in env.items()}},
            self.logs / f"dispatcher-{name}.log",
        )
        self.dispatchers.append(dispatcher)
        client = redis.Redis.from_url(self.settings.redis_url)

        def beating() -> bool:
            if not dispatcher.alive():
                raise RuntimeError(f"dispatcher {name} exited:\n{dispatcher.log_tail()}")
            return bool(client.exists(f"ar:webhooks:dispatcher:{name}"))

        try:
            wait_until(beating, 30, f"dispatcher {name} heartbeat", poll_s=0.1)
        finally:
            client.close()
        return dispatcher

    def stop(self) -> None:
        for dispatcher in self.dispatchers:
            dispatcher.stop()
        for worker in self.workers:
            worker.stop()
        if self.api is not None:
            self.api.stop()


def register_portrait(
    client: httpx.Client, data: bytes = b"", name: str = "astronaut"
) -> dict[str, Any]:
    """Register a portrait (the bundled sample by default) and return the character."""
    body = data or SAMPLE_PORTRAIT.read_bytes()
    response = client.post(
        "/v1/characters", files={"portrait": ("p.png", body)}, data={"name": name}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_for_job(
    client: httpx.Client, job_id: str, timeout_s: float = 120.0, poll_s: float = 0.1
) -> dict[str, Any]:
    """Poll the API until the job is finished; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/renders/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(poll_s)
    raise TimeoutError(f"job {job_id} did not finish within {timeout_s} s")


def wait_for_worker(settings: Settings, name: str, process: ManagedProcess) -> None:
    """A worker is up when it answers a Celery ping under its node name."""
    app = make_celery(settings)

    def answered() -> bool:
        if not process.alive():
            raise RuntimeError(f"worker {name} exited:\n{process.log_tail()}")
        replies = app.control.ping(timeout=0.5) or []
        return any(name in node for reply in replies for node in reply)

    try:
        wait_until(answered, 60, f"worker {name} answering ping", poll_s=0.2)
    finally:
        app.close()


@contextmanager
def running_stack(
    redis_url: str, root: Path, api_keys: str = "", **settings: str
) -> Iterator[Stack]:
    storage = root / "storage"
    values = {
        "redis_url": redis_url,
        "storage_url": storage.as_uri(),
        "api_keys": api_keys,
        "renderer": "mock",
        **settings,
    }
    env = child_env(**values)
    stack = Stack(
        api_url=f"http://127.0.0.1:{free_port()}",
        settings=Settings(**values),  # type: ignore[arg-type]
        storage_dir=storage,
        env=env,
        logs=root / "logs",
    )
    try:
        yield stack
    finally:
        stack.stop()
