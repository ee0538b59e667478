"""Queue load: N small mock jobs submitted concurrently through the HTTP API.

Starts its own redis-server, mock workers and the API on loopback, submits the jobs from
a thread pool of plain ``http.client`` connections, waits for all of them, and prints jobs
a second, enqueue and end-to-end latency percentiles, and, on the same Redis, the raw rate
of Celery ``send_task``, so the cost of our API and job store shows as a ratio.

    .venv/bin/python -m benchmarks.queue_load --jobs 1000
    .venv/bin/python -m benchmarks.queue_load --jobs 1000 --replica   # WAIT 1 before 202
    .venv/bin/python -m benchmarks.queue_load --jobs 1000 --rate 100  # open loop
    .venv/bin/python -m benchmarks.queue_load --jobs 1000 --rate 100 --worker-nice 10

By default the client threads submit as fast as answers come back (closed loop), which
measures the most the API accepts. ``--rate N`` is an open loop: request ``i`` is due at
``i / N`` seconds whether or not earlier ones were answered, as independent clients
would send them, and its latency counts from that due time, so a slow answer that holds
back the requests behind it shows in their latency too (no coordinated omission).

The workers render on the same cores as the API, Redis and the load generator; a backlog
keeps them busy throughout. ``--worker-nice N`` runs them at a lower CPU priority
(``RENDER_WORKER_NICE``), as on a host they share with the API.

``--replica`` adds a replica of that Redis and makes the API wait for it (``WAIT 1``)
before each 202, as it does behind sentinels: the difference is the cost of that wait.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks.cpu_use import group_cpu_s, own_cpu_s, process_cpu_s, used
from benchmarks.local_stack import (
    CLI,
    SAMPLE,
    UNCACHED_JOB,
    UNLIMITED,
    api_ready,
    percentile,
    stack_env,
)
from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, wait_until
from render_core.jobs import JobStore
from render_core.queue import make_celery
from render_core.schema import JobRecord, JobStatus
from render_core.settings import Settings

WARM_UP_JOBS = 8


@dataclass
class LoadResult:
    jobs: int
    succeeded: int
    wall_s: float
    submit_s: float
    enqueue_ms: list[float]
    end_to_end_ms: list[float]
    raw_send_per_s: float
    rate: float | None = None  # requests a second of an open loop; None: closed loop
    worker_nice: int = 0
    # CPU ms a job while the jobs were submitted, by role (API, Redis, client, workers),
    # and a raw send_task's (sender, Redis)
    cpu_ms_per_job: dict[str, float] = field(default_factory=dict)
    raw_cpu_ms_per_send: dict[str, float] = field(default_factory=dict)


# CPU seconds so far, by role
Meter = Callable[[], dict[str, float]]


def raw_send_rate(settings: Settings, count: int, meter: Meter) -> tuple[float, dict[str, float]]:
    """Celery's own publish rate on the same Redis, to a scratch queue nobody consumes,
    and its CPU ms a message (this process's and Redis's)."""
    app = make_celery(settings)
    queue = "load-scratch"
    app.send_task("load.noop", args=["connect"], queue=queue)
    cpu_before = meter()
    started = time.perf_counter()
    for index in range(count):
        app.send_task("load.noop", args=[str(index)], queue=queue)
    elapsed = time.perf_counter() - started
    cpu = used(cpu_before, meter())
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    app.close()
    per_send = {"sender": cpu["client"] * 1000 / count, "Redis": cpu["Redis"] * 1000 / count}
    return count / elapsed, per_send


def run_load(
    jobs: int,
    concurrency: int,
    workers: int,
    api_workers: int,
    root: Path,
    replica: bool = False,
    rate: float | None = None,
    worker_nice: int = 0,
) -> LoadResult:
    with contextlib.ExitStack() as servers:
        redis_server = servers.enter_context(
            LocalRedis(root / "redis", None, "--repl-diskless-sync-delay", "0")
        )
        values = {
            "redis_url": redis_server.url,
            "storage_url": (root / "storage").as_uri(),
            "api_keys": "",
            "renderer": "mock",
            **UNLIMITED,
            "worker_nice": str(worker_nice),
        }
        if replica:
            copy = servers.enter_context(LocalRedis(root / "replica").replica_of(redis_server))
            copy.wait_replicating()
            values["redis_wait_replicas"] = "1"
        env = stack_env(values)
        port = free_port()
        api_url = f"http://127.0.0.1:{port}"
        children = [
            ManagedProcess(
                [*CLI, "worker", "--name", f"load{i}", "--loglevel", "WARNING"],
                env,
                root / f"worker{i}.log",
            )
            for i in range(workers)
        ]
        api_args = [*CLI, "api", "--port", str(port), "--workers", str(api_workers)]
        api = ManagedProcess(api_args, env, root / "api.log")
        redis_pid = redis_server.process.pid if redis_server.process else 0

        def meter() -> dict[str, float]:
            return {
                "API": group_cpu_s(api.pid),  # uvicorn's processes share its group
                "Redis": process_cpu_s(redis_pid),
                "client": own_cpu_s(),
                "workers": sum(group_cpu_s(worker.pid) for worker in children),
            }

        try:
            settings = Settings(**values)  # type: ignore[arg-type]
            return _measure(api_url, settings, jobs, concurrency, rate, meter, worker_nice)
        finally:
            for child in [*children, api]:
                child.stop()


class JsonPoster:
    """The load generator: one kept-alive ``http.client`` connection a thread, the body
    encoded once. It shares the cores with what it measures, so it is kept lean (about a
    third of httpx's CPU a request)."""

    def __init__(self, base_url: str, path: str, body: dict[str, object]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = path
        self.body = json.dumps(body).encode()
        self.headers = {"Content-Type": "application/json"}
        self.local = threading.local()
        self.connections: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def post(self) -> str:
        """Submit once; the new job's id."""
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
        connection.request("POST", self.path, self.body, self.headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 202:
            raise RuntimeError(f"submission answered {response.status}: {answer[:200]!r}")
        return str(json.loads(answer)["id"])

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def _measure(
    api_url: str,
    settings: Settings,
    jobs: int,
    concurrency: int,
    rate: float | None,
    meter: Meter,
    worker_nice: int,
) -> LoadResult:
    wait_until(lambda: api_ready(api_url), 60, "API ready")
    with httpx.Client(base_url=api_url, timeout=60) as client:
        character = client.post(
            "/v1/characters", files={"portrait": ("a.png", SAMPLE.read_bytes())}
        ).json()
        body = {"character_id": character["id"], **UNCACHED_JOB}
        # Warm every path of every API process (its first dispatch opens its broker
        # connection) and open the client's connections: what follows is the steady state.
        with ThreadPoolExecutor(max_workers=WARM_UP_JOBS) as pool:
            warm_up = range(WARM_UP_JOBS)
            for answer in pool.map(lambda _: client.post("/v1/renders", json=body), warm_up):
                answer.raise_for_status()
        store = JobStore.from_settings(settings)

        def warm() -> bool:
            return store.index.count(JobStatus.succeeded) == WARM_UP_JOBS

        wait_until(warm, 60, "warm-up jobs")

        poster = JsonPoster(api_url, "/v1/renders", body)
        cpu_before = meter()
        started = time.perf_counter()

        def submit(index: int) -> tuple[str, float]:
            sent = time.perf_counter()
            if rate is not None:  # open loop: due at its slot, late or not
                sent = started + index / rate
                time.sleep(max(0.0, sent - time.perf_counter()))
            job_id = poster.post()
            return job_id, (time.perf_counter() - sent) * 1000

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            submitted = list(pool.map(submit, range(jobs)))
        poster.close()
        submit_s = time.perf_counter() - started
        cpu = used(cpu_before, meter())
        ids = [job_id for job_id, _ in submitted]

        def all_finished() -> bool:
            done = sum(
                store.index.count(s)
                for s in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)
            )
            return done >= jobs + WARM_UP_JOBS

        wait_until(all_finished, 1800, f"{jobs} jobs finishing", poll_s=0.2)
        wall = time.perf_counter() - started
    raw_send_per_s, raw_cpu = raw_send_rate(settings, max(jobs, 1000), meter)
    records: list[JobRecord] = [store.get(job_id) for job_id in ids]
    end_to_end = [
        (r.finished_at - r.created_at).total_seconds() * 1000 for r in records if r.finished_at
    ]
    return LoadResult(
        jobs=jobs,
        succeeded=sum(r.status == JobStatus.succeeded for r in records),
        wall_s=wall,
        submit_s=submit_s,
        enqueue_ms=[latency for _, latency in submitted],
        end_to_end_ms=end_to_end,
        raw_send_per_s=raw_send_per_s,
        rate=rate,
        worker_nice=worker_nice,
        cpu_ms_per_job={role: seconds * 1000 / jobs for role, seconds in cpu.items()},
        raw_cpu_ms_per_send=raw_cpu,
    )


def table(result: LoadResult) -> str:
    rate = result.jobs / result.wall_s
    api_rate = result.jobs / result.submit_s
    enqueue, e2e = result.enqueue_ms, result.end_to_end_ms
    if result.rate is None:
        accepted = ("API enqueue rate", f"{api_rate:.0f} jobs/s ({result.submit_s:.1f} s)")
    else:
        accepted = ("open loop: offered / answered", f"{result.rate:g} / {api_rate:.0f} req/s")
    rows = [
        ("jobs submitted / succeeded", f"{result.jobs} / {result.succeeded}"),
        ("workers' nice", str(result.worker_nice)),
        ("throughput, submit to last finish", f"{rate:.1f} jobs/s ({result.wall_s:.1f} s)"),
        accepted,
        (
            "enqueue latency p50 / p99",
            f"{percentile(enqueue, 50):.1f} / {percentile(enqueue, 99):.1f} ms",
        ),
        (
            "end-to-end latency p50 / p99",
            f"{percentile(e2e, 50):.0f} / {percentile(e2e, 99):.0f} ms",
        ),
        ("raw Celery send_task rate", f"{result.raw_send_per_s:.0f} msgs/s"),
        ("CPU a job while submitting", _per_role(result.cpu_ms_per_job)),
        ("CPU a raw send_task", _per_role(result.raw_cpu_ms_per_send)),
    ]
    if result.rate is None:  # an open loop's API rate is the offered one: no ratio to read
        rows.append(("API enqueue / raw send_task", f"{api_rate / result.raw_send_per_s:.2f}x"))
    lines = ["| measure | value |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)]
    return "\n".join(lines)


def _per_role(cpu_ms: dict[str, float]) -> str:
    return ", ".join(f"{role} {ms:.2f} ms" for role, ms in cpu_ms.items())


def main(argv: list[str] | None = None) -> LoadResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="mock worker processes")
    parser.add_argument("--api-workers", type=int, default=2, help="uvicorn processes")
    parser.add_argument(
        "--replica", action="store_true", help="a replica, and WAIT 1 before each 202"
    )
    parser.add_argument(
        "--rate", type=float, help="open loop: requests a second, on a fixed schedule"
    )
    parser.add_argument(
        "--worker-nice", type=int, default=0, help="the workers' CPU priority (RENDER_WORKER_NICE)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="queue-load-") as root:
        result = run_load(
            args.jobs,
            args.concurrency,
            args.workers,
            args.api_workers,
            Path(root),
            args.replica,
            args.rate,
            args.worker_nice,
        )
    print(table(result))
    return result


if __name__ == "__main__":
    main()
