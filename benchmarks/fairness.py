"""Fairness: tenant A queues 500 jobs, then tenant B submits one, on two mock workers.

For each mode it starts its own redis-server, two mock workers and the API on loopback,
submits A's jobs in batches of 100 and B's one job right after, waits for all of them and
reports B's wait (submission to start) in seconds and in job-times, and A's throughput
(jobs a second from its first submission to its last finish).

Modes: ``fair`` (the default: a short broker, tenants in turn), ``unbounded``
(``RENDER_DISPATCH_AHEAD=0``: every job sent at once, in submission order, as before fair
scheduling), and ``--baseline DIR`` runs the same against another checkout's code: the
commit before fair scheduling, exported so that nothing else differs.

    git archive <commit before> | tar -x -C /tmp/before
    .venv/bin/python -m benchmarks.fairness --jobs 500 --repeat 3 --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.local_stack import CLI, SAMPLE, UNLIMITED, api_ready, stack_env
from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, wait_until
from render_core.jobs import JobStore
from render_core.schema import JobRecord, JobStatus

KEYS = {"tenant-a": "bench-key-a", "tenant-b": "bench-key-b"}
# 5 frames at 20 ms: a job of about 0.15 s with the queue's own costs included.
JOB = {"emotion": "happy", "size": 256, "duration_ms": 200, "fps": 25, "outputs": ["frames"]}
FRAME_DELAY_S = "0.02"
WORKERS = 2


@dataclass(frozen=True)
class Mode:
    name: str
    code: Path | None  # None: this checkout
    settings: dict[str, str]


@dataclass(frozen=True)
class FairnessResult:
    mode: str
    a_jobs: int
    a_per_s: float
    b_wait_s: float
    job_s: float

    @property
    def b_wait_jobs(self) -> float:
        return self.b_wait_s / self.job_s

    @property
    def busy(self) -> float:
        return self.a_per_s * self.job_s / WORKERS


def _client(url: str, tenant: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {KEYS[tenant]}"}, timeout=120
    )


def _character(client: httpx.Client) -> str:
    response = client.post("/v1/characters", files={"portrait": ("a.png", SAMPLE.read_bytes())})
    response.raise_for_status()
    return str(response.json()["id"])


def run_mode(mode: Mode, jobs: int, root: Path) -> FairnessResult:
    with LocalRedis(data_dir=root / "redis") as redis_server:
        values = {
            "redis_url": redis_server.url,
            "storage_url": (root / "storage").as_uri(),
            "api_keys": ",".join(f"{t}:{k}" for t, k in KEYS.items()),
            "renderer": "mock",
            "mock_frame_delay_s": FRAME_DELAY_S,
            **UNLIMITED,
            **mode.settings,
        }
        env = stack_env(values)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        children = [
            ManagedProcess(
                [*CLI, "worker", "--name", f"fair{i}", "--loglevel", "WARNING"],
                env,
                root / f"worker{i}.log",
                cwd=mode.code,
            )
            for i in range(WORKERS)
        ]
        children.append(
            ManagedProcess([*CLI, "api", "--port", str(port)], env, root / "api.log", cwd=mode.code)
        )
        try:
            return _measure(mode.name, url, redis_server.url, jobs)
        finally:
            for child in children:
                child.stop()


def _measure(name: str, url: str, redis_url: str, jobs: int) -> FairnessResult:
    wait_until(lambda: api_ready(url), 90, "API ready (both workers beating)")
    store = JobStore.from_url(redis_url)
    with _client(url, "tenant-a") as a, _client(url, "tenant-b") as b:
        # 500 renders, not one render and 499 cache hits (the code before the cache has
        # no such field, and no cache)
        uncached = {} if name == "baseline" else {"cache": False}
        body_a = {"character_id": _character(a), **JOB, **uncached}
        body_b = {"character_id": _character(b), **JOB, **uncached}
        warm = a.post("/v1/renders", json=body_a)  # every path once, and a job time learnt
        warm.raise_for_status()
        wait_until(lambda: store.index.count(JobStatus.succeeded) == 1, 60, "warm-up job")
        a_ids: list[str] = []
        for start in range(0, jobs, 100):
            batch = {"requests": [body_a] * min(100, jobs - start)}
            response = a.post("/v1/renders/batch", json=batch)
            response.raise_for_status()
            a_ids += [job["id"] for job in response.json()["jobs"]]
        response = b.post("/v1/renders", json=body_b)
        response.raise_for_status()
        b_id = str(response.json()["id"])
    every = [*a_ids, b_id]
    wait_until(
        lambda: store.index.count(JobStatus.succeeded) >= len(every) + 1,
        3600,
        f"{len(every)} jobs finishing",
        poll_s=0.5,
    )
    records = {r.id: r for r in store.get_many(every) if r is not None}
    return _result(name, [records[i] for i in a_ids], records[b_id])


def _seconds(record: JobRecord, start: str, end: str) -> float:
    return float((getattr(record, end) - getattr(record, start)).total_seconds())


def _result(name: str, a_jobs: list[JobRecord], b_job: JobRecord) -> FairnessResult:
    first = min(r.created_at for r in a_jobs)
    last = max(r.finished_at for r in a_jobs if r.finished_at)
    return FairnessResult(
        mode=name,
        a_jobs=len(a_jobs),
        a_per_s=len(a_jobs) / (last - first).total_seconds(),
        b_wait_s=_seconds(b_job, "created_at", "started_at"),
        job_s=statistics.median(_seconds(r, "started_at", "finished_at") for r in a_jobs),
    )


def table(results: list[FairnessResult]) -> str:
    """One row a run, then each mode's means. *Busy* is A's throughput times the job time
    over the two workers: the share of the time the workers were rendering, which tells
    the queue's own idling apart from jobs that were slower (a loaded box)."""
    lines = [
        "| mode | A's throughput | busy | B waited | B waited, in job-times | median job time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.a_per_s:.2f} jobs/s | {r.busy:.0%} | {r.b_wait_s:.2f} s | "
            f"{r.b_wait_jobs:.1f} | {r.job_s * 1000:.0f} ms |"
        )
    means = {}
    for mode in dict.fromkeys(r.mode for r in results):
        runs = [r for r in results if r.mode == mode]
        means[mode] = statistics.mean(r.a_per_s for r in runs)
        busy = statistics.mean(r.busy for r in runs)
        wait = statistics.mean(r.b_wait_jobs for r in runs)
        lines.append(
            f"| **{mode}, mean of {len(runs)}** | {means[mode]:.2f} jobs/s | {busy:.0%} | | "
            f"{wait:.1f} | |"
        )
    reference = means.get("baseline", means.get("unbounded"))
    if reference and "fair" in means:
        change = means["fair"] / reference - 1
        lines.append(f"\nA's throughput, fair against today: {change:+.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[FairnessResult]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=500, help="tenant A's jobs")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode, interleaved")
    parser.add_argument("--baseline", type=Path, help="another checkout to run as 'baseline'")
    args = parser.parse_args(argv)
    modes = [Mode("fair", None, {}), Mode("unbounded", None, {"dispatch_ahead": "0"})]
    if args.baseline:
        modes.append(Mode("baseline", args.baseline.resolve(), {}))
    results = []
    for _ in range(args.repeat):
        for mode in modes:
            with tempfile.TemporaryDirectory(prefix="fairness-") as root:
                started = time.perf_counter()
                results.append(run_mode(mode, args.jobs, Path(root)))
                print(f"{mode.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
