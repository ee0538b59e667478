"""Render cache: how long a hit takes end to end, against a render, on the mock renderer.

Starts its own redis-server, one mock worker and the API on loopback; renders a clip
once (a miss, timed from submission to success), then submits the identical request
(new metadata each time) N times and times each from the POST to a succeeded job in hand,
and once more with a GET of its manifest.

    .venv/bin/python -m benchmarks.render_cache --hits 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.local_stack import CLI, SAMPLE, UNLIMITED, api_ready, percentile, stack_env
from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, wait_until

JOB = {"emotion": "happy", "intensity": 0.8, "size": 512, "duration_ms": 2000, "fps": 25}


@dataclass(frozen=True)
class CacheResult:
    miss_ms: float
    hit_ms: list[float]
    hit_with_manifest_ms: list[float]


def run(hits: int, root: Path) -> CacheResult:
    with LocalRedis(data_dir=root / "redis") as redis_server:
        values = {
            "redis_url": redis_server.url,
            "storage_url": (root / "storage").as_uri(),
            "api_keys": "",
            "renderer": "mock",
            **UNLIMITED,
        }
        env = stack_env(values)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        children = [
            ManagedProcess([*CLI, "worker", "--name", "cache0"], env, root / "worker.log"),
            ManagedProcess([*CLI, "api", "--port", str(port)], env, root / "api.log"),
        ]
        try:
            wait_until(lambda: api_ready(url), 90, "API ready")
            with httpx.Client(base_url=url, timeout=60) as client:
                return _measure(client, hits)
        finally:
            for child in children:
                child.stop()


def _measure(client: httpx.Client, hits: int) -> CacheResult:
    files = {"portrait": ("a.png", SAMPLE.read_bytes())}
    body = {"character_id": client.post("/v1/characters", files=files).json()["id"], **JOB}
    started = time.perf_counter()
    job_id = client.post("/v1/renders", json=body).json()["id"]

    def finished() -> bool:
        return bool(client.get(f"/v1/renders/{job_id}").json()["status"] == "succeeded")

    wait_until(finished, 120, "the first render", poll_s=0.01)
    miss_ms = (time.perf_counter() - started) * 1000
    hit_ms, with_manifest_ms = [], []
    for index in range(hits):
        started = time.perf_counter()
        job = client.post("/v1/renders", json={**body, "metadata": {"n": index}}).json()
        hit_ms.append((time.perf_counter() - started) * 1000)
        if job["status"] != "succeeded" or job["cache"] != "hit":
            raise RuntimeError(f"not a hit: {job}")
        client.get(f"/v1/renders/{job['id']}/manifest").raise_for_status()
        with_manifest_ms.append((time.perf_counter() - started) * 1000)
    return CacheResult(miss_ms, hit_ms, with_manifest_ms)


def table(result: CacheResult) -> str:
    def spread(values: list[float]) -> str:
        p50, p95 = percentile(values, 50), percentile(values, 95)
        return f"{p50:.1f} / {p95:.1f} / {max(values):.1f} ms"

    rows = [
        ("first render (miss): submission to succeeded", f"{result.miss_ms:.0f} ms"),
        (
            f"hit, POST to succeeded job (p50 / p95 / max of {len(result.hit_ms)})",
            spread(result.hit_ms),
        ),
        ("hit and its manifest fetched (p50 / p95 / max)", spread(result.hit_with_manifest_ms)),
    ]
    return "\n".join(["| measure | value |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)])


def main(argv: list[str] | None = None) -> CacheResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hits", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="render-cache-") as root:
        result = run(args.hits, Path(root))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
