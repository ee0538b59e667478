"""Time to first frame: from a render task's start to its first frame in storage, and to
that frame decoded by a WHEP viewer on the same host; with and without a small first batch.

Real processes, as the tests run them: a private redis-server, one worker (the mock on
the CPU, LivePortrait on ``--device cuda:N``) and the API, which holds the WHEP sessions.
Each run submits a clip and at once opens a WHEP session on it (an aiortc viewer), then
reads the render's events from the log. Times are wall clock on one host:

- task start: the ``render.started`` event (the worker claimed the job);
- first frame stored: the first ``render.progress`` event (it names the stored frames);
- first frame decoded: the viewer decoded its first video frame;
- clip done: ``render.succeeded`` (the manifest is committed).

The worker restarts for each first-batch size (``RENDER_FIRST_BATCH_SIZE``; 0 is a full
first batch); one warm-up run each is not counted. Prints a markdown table of medians.

    python -m benchmarks.first_frame                       # CPU, mock renderer
    python -m benchmarks.first_frame --mock-frame-delay 0.02
    python -m benchmarks.first_frame --device cuda:0       # LivePortrait (synthetic weights)
    python -m benchmarks.first_frame --device cuda:0 --weights DIR --runs 10
    python -m benchmarks.first_frame --renderer liveportrait --size 256 --duration-ms 400 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from render_cli.local_redis import LocalRedis
from render_core.event_log import as_entries, parse_entry, stream_key
from render_core.redis_conn import sync_redis
from tests.stack import Stack, register_portrait, running_stack, wait_for_job
from tests.whep_client import watch

TENANT, KEY = "bench", "bench-first-frame-key"


@dataclass(frozen=True)
class Run:
    first_stored_ms: float
    done_ms: float
    first_decoded_ms: float | None = None  # None: a run without a viewer


def _event_times(stack: Stack, job_id: str) -> dict[str, float]:
    """Each event type's first time (epoch s) for the job, from the log."""
    client = sync_redis(stack.settings)
    try:
        rows = as_entries(client.xrange(stream_key(TENANT)))
    finally:
        client.close()
    times: dict[str, float] = {}
    for entry_id, fields in rows:
        event = parse_entry(entry_id, fields)
        if event.render_id == job_id:
            times.setdefault(event.type, event.time.timestamp())
    return times


def one_run(stack: Stack, client: httpx.Client, body: dict[str, Any], viewer: bool) -> Run:
    """One clip, watched over WHEP from its submission when ``viewer``."""
    response = client.post("/v1/renders", json=body)
    response.raise_for_status()
    job_id = response.json()["id"]
    decoded: float | None = None
    if viewer:
        received = asyncio.run(watch(stack.api_url, KEY, job_id, timeout_s=600))
        if len(received.times) < body["duration_ms"] * body["fps"] // 1000:
            raise RuntimeError(f"render {job_id}: the viewer got {len(received.times)} frames")
        decoded = received.times[0]
    job = wait_for_job(client, job_id, timeout_s=600, poll_s=0.05)
    if job["status"] != "succeeded":
        raise RuntimeError(f"render {job_id}: {job['status']} {job.get('error')}")
    times = _event_times(stack, job_id)
    start = times["render.started"]
    return Run(
        first_stored_ms=(times["render.progress"] - start) * 1000,
        done_ms=(times["render.succeeded"] - start) * 1000,
        first_decoded_ms=None if decoded is None else (decoded - start) * 1000,
    )


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def measure(stack: Stack, args: argparse.Namespace, first_batch: int) -> list[Run]:
    worker = stack.start_worker(f"bench-{first_batch}", first_batch_size=str(first_batch))
    if stack.api is None:
        stack.start_api()  # ready once a worker is
    try:
        with httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60.0
        ) as client:
            character_id = register_portrait(client)["id"]
            body = {
                "character_id": character_id,
                "emotion": "happy",
                "intensity": 1.0,
                "duration_ms": args.duration_ms,
                "fps": args.fps,
                "size": args.size,
                "outputs": ["frames", "mp4"],
                "cache": False,  # every run renders: a hit would be no measurement
            }
            one_run(stack, client, body, viewer=True)  # warm-up: a cold source, connections
            # Alternate: a viewer's encoding and decoding share this host's CPU with the
            # worker, so the clip's total time is also measured without one.
            modes = [True, False] * args.runs
            return [one_run(stack, client, body, viewer=watched) for watched in modes]
    finally:
        worker.stop()
        stack.workers.remove(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (the mock) or cuda:N (LivePortrait)")
    parser.add_argument(
        "--renderer", choices=["mock", "liveportrait"], help="default: the mock on cpu only"
    )
    parser.add_argument("--weights", type=Path, help="LivePortrait weights (default: synthetic)")
    parser.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16, help="RENDER_FRAME_BATCH_SIZE")
    parser.add_argument(
        "--first-batches", default="0,1,2", help="RENDER_FIRST_BATCH_SIZE values (0: full)"
    )
    parser.add_argument("--mock-frame-delay", type=float, default=0.0, help="mock s/frame")
    parser.add_argument("--duration-ms", type=int, default=2000)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", type=int, choices=[256, 512], default=512)
    args = parser.parse_args()
    gpu = (args.renderer or ("mock" if args.device == "cpu" else "liveportrait")) == "liveportrait"
    first_batches = [int(value) for value in args.first_batches.split(",")]
    settings: dict[str, str] = {
        "frame_batch_size": str(args.batch),
        "mock_frame_delay_s": str(args.mock_frame_delay),
        "log_json": "false",
    }
    with contextlib.ExitStack() as resources:
        root = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="first-frame-")))
        if gpu:
            # Imported here: only LivePortrait runs need torch (for synthetic weights).
            from workers.renderers.liveportrait.synthetic_weights import weights_or_synthetic

            weights = resources.enter_context(weights_or_synthetic(args.weights))
            settings |= {
                "renderer": "liveportrait",
                "weights_dir": str(weights),
                "device": args.device,
                "precision": args.precision,
            }
        redis_server = resources.enter_context(LocalRedis(root / "redis"))
        stack = resources.enter_context(
            running_stack(redis_server.url, root, f"{TENANT}:{KEY}", **settings)
        )
        results = {first: measure(stack, args, first) for first in first_batches}
    frames = round(args.duration_ms * args.fps / 1000)
    renderer = f"LivePortrait on {args.device} ({args.precision})" if gpu else "mock on the CPU"
    delay = f", mock {args.mock_frame_delay * 1000:.0f} ms a frame" if not gpu else ""
    print(
        f"## Time to first frame: {renderer}{delay}\n\n"
        f"{frames} frames ({args.duration_ms} ms at {args.fps} fps, {args.size} px), batches "
        f"of {args.batch}; ms from the task's start (render.started), median (min-max) of "
        f"{args.runs} runs with a WHEP viewer (an aiortc client on this host) and "
        f"{args.runs} without, after a warm-up; first frame stored is over all of them.\n"
    )
    print(
        "| first batch | first frame stored | first frame decoded (WHEP) | clip done "
        "| clip done, no viewer |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for first, runs in results.items():
        label = f"{first} frames" if first else f"{args.batch} (full)"
        watched = [r for r in runs if r.first_decoded_ms is not None]
        alone = [r for r in runs if r.first_decoded_ms is None]
        decoded = [r.first_decoded_ms for r in watched if r.first_decoded_ms is not None]
        print(
            f"| {label} | {_cell([r.first_stored_ms for r in runs])} | {_cell(decoded)} "
            f"| {_cell([r.done_ms for r in watched])} | {_cell([r.done_ms for r in alone])} |"
        )


if __name__ == "__main__":
    main()
