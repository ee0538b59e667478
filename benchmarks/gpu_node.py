"""A GPU node at full load: one LivePortrait worker on one GPU working through a queue of
emotion clips with PNG frames and an mp4, and which stage bounds it.

Real processes, as the tests run them: a private redis-server, one worker on ``--device``
and the API. One warm-up clip fills the source cache and the connections; then
``--clips`` clips (the emotions in turn, ``--frames`` frames at 25 fps) are queued at
once. Times come from the render log: the first ``render.started`` to the last
``render.succeeded``. Meanwhile a thread samples the GPU's utilisation (``nvidia-smi``,
the share of time a kernel was running) and ``/proc/stat`` gives the host's CPU use.

The manifests' stage timings, summed over the clips, say what bounds the worker. Each
worker process's wall time is the render loop rendering (model, paste-back, the copy to
the host), the clip's serial tail (the source, waiting for the last batch's encoders, the
mp4 flush, the clip and manifest writes) and the gap between clips; the model bounds the
run when it takes at least 80 % of it. Meanwhile PNG encoding and frame writes run on
``RENDER_ENCODE_THREADS`` threads and the mp4 on one thread a clip: their busy share
says which of them the tail waits for.

    python -m benchmarks.gpu_node --device cuda:0
    python -m benchmarks.gpu_node --device cuda:0 --encode-threads 14 --concurrency 2
    python -m benchmarks.gpu_node --device cpu --size 256 --clips 2 --frames 5   # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from render_cli.local_redis import LocalRedis
from render_core.emotions import Emotion
from render_core.event_log import as_entries, parse_entry, stream_key
from render_core.manifest import RenderManifest
from render_core.redis_conn import sync_redis
from render_core.settings import Settings
from tests.stack import Stack, register_portrait, running_stack, wait_for_job

TENANT, KEY = "bench", "bench-gpu-node-key"
FPS = 25


@dataclass
class GpuSampler:
    """``nvidia-smi``'s utilisation every 100 ms, in a thread, while in use."""

    samples: list[int] = field(default_factory=list)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[GpuSampler]:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        try:
            process = subprocess.Popen([*query, "-lms", "100"], stdout=subprocess.PIPE, text=True)
        except FileNotFoundError:  # no NVIDIA driver: a CPU smoke run
            yield self
            return

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                with contextlib.suppress(ValueError):
                    self.samples.append(int(line.split(",")[0]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            yield self
        finally:
            process.terminate()
            process.wait()
            reader.join(timeout=5)

    def busy(self) -> float | None:
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole host since boot, from ``/proc/stat``."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _event_times(stack: Stack, job_ids: set[str]) -> tuple[float, float]:
    """The first render.started and last render.succeeded of the jobs (epoch s)."""
    client = sync_redis(stack.settings)
    try:
        rows = as_entries(client.xrange(stream_key(TENANT)))
    finally:
        client.close()
    started: list[float] = []
    succeeded: list[float] = []
    for entry_id, fields in rows:
        event = parse_entry(entry_id, fields)
        if event.render_id in job_ids:
            if event.type == "render.started":
                started.append(event.time.timestamp())
            elif event.type == "render.succeeded":
                succeeded.append(event.time.timestamp())
    return min(started), max(succeeded)


def _manifests(stack: Stack, job_ids: set[str]) -> list[RenderManifest]:
    manifests = [
        RenderManifest.model_validate_json(path.read_text())
        for path in stack.storage_dir.rglob("manifest.json")
    ]
    return [manifest for manifest in manifests if manifest.job_id in job_ids]


@dataclass(frozen=True)
class NodeRun:
    clips: int
    frames: int
    wall_s: float
    gpu_busy: float | None
    cpu_cores_busy: float
    stage_ms: dict[str, float]  # summed over the clips


def run_clips(stack: Stack, args: argparse.Namespace) -> NodeRun:
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60.0
    ) as client:
        character_id = register_portrait(client)["id"]
        emotions = list(Emotion)

        def body(n: int) -> dict[str, object]:
            return {
                "character_id": character_id,
                "emotion": emotions[n % len(emotions)].value,
                "intensity": 1.0,
                "duration_ms": args.frames * 1000 // FPS,
                "fps": FPS,
                "size": args.size,
                "outputs": ["frames", "mp4"],
                "cache": False,  # 64 renders, not 7 and 57 cache hits
            }

        def submit(n: int) -> str:
            response = client.post("/v1/renders", json=body(n))
            response.raise_for_status()
            job_id: str = response.json()["id"]
            return job_id

        warm_up = wait_for_job(client, submit(0), timeout_s=900)  # compile, source cache
        if warm_up["status"] != "succeeded":
            raise RuntimeError(f"warm-up clip: {warm_up['status']} {warm_up.get('error')}")
        sampler = GpuSampler()
        with sampler.sampling():
            busy_before, total_before = cpu_jiffies()
            job_ids = [submit(n) for n in range(args.clips)]
            for job_id in job_ids:
                job = wait_for_job(client, job_id, timeout_s=900, poll_s=0.2)
                if job["status"] != "succeeded":
                    raise RuntimeError(f"render {job_id}: {job['status']} {job.get('error')}")
            busy_after, total_after = cpu_jiffies()
    first_start, last_done = _event_times(stack, set(job_ids))
    wall_s = last_done - first_start
    cores = os.cpu_count() or 1
    manifests = _manifests(stack, set(job_ids))
    stages: dict[str, float] = {}
    for manifest in manifests:
        for stage, ms in manifest.timings_ms.items():
            stages[stage] = stages.get(stage, 0.0) + ms
    return NodeRun(
        clips=len(manifests),
        frames=sum(manifest.frame_count for manifest in manifests),
        wall_s=wall_s,
        gpu_busy=sampler.busy(),
        cpu_cores_busy=cores * (busy_after - busy_before) / max(1, total_after - total_before),
        stage_ms=stages,
    )


def stage_tables(run: NodeRun, encode_threads: int, concurrency: int) -> str:
    """A process's wall time by serial stage, the background threads' busy shares, and the
    stage that bounds the run."""
    per_frame = {stage: ms / run.frames for stage, ms in run.stage_ms.items()}
    process_ms = run.wall_s * 1000 * concurrency / run.frames  # one process's, a frame
    render = per_frame.get("render", 0.0)
    tail = per_frame.get("total", 0.0) - render
    serial = [
        ("model (render loop)", render),
        ("clip's serial tail", tail),
        ("gap between clips", max(process_ms - render - tail, 0.0)),
    ]
    background = [
        ("PNG encode", per_frame.get("encode_frames", 0.0), encode_threads),
        ("mp4 encode", per_frame.get("encode_mp4", 0.0), 1),
        ("storage writes", per_frame.get("storage_writes", 0.0), encode_threads),
    ]
    lines = [
        "| a worker process's wall time | ms a frame | share |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {ms:.2f} | {ms / process_ms:.0%} |" for name, ms in serial),
        "",
        "| background stage | ms a frame, summed | threads a process | busy share |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {ms:.2f} | {threads} | {ms / (threads * process_ms):.0%} |"
            for name, ms, threads in background
        ),
        "",
    ]
    if render >= 0.8 * process_ms:
        lines.append("bound: the model")
    else:
        busiest = max(background, key=lambda row: row[1] / row[2])[0]
        lines.append(f"bound: the work around the model (its busiest thread stage: {busiest})")
    return "\n".join(lines)


def clip_arguments(parser: argparse.ArgumentParser) -> None:
    """The options a GPU benchmark of queued clips shares."""
    parser.add_argument("--weights", type=Path, help="LivePortrait weights (default: synthetic)")
    parser.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--frames", type=int, default=50, help="frames a clip, at 25 fps")
    parser.add_argument("--size", type=int, choices=[256, 512], default=512)
    parser.add_argument("--batch", type=int, default=16, help="RENDER_FRAME_BATCH_SIZE")
    parser.add_argument("--concurrency", type=int, default=1, help="worker pool processes")


def liveportrait_stack(
    resources: contextlib.ExitStack, root: Path, weights: Path, args: argparse.Namespace, **env: str
) -> Stack:
    """Redis and a LivePortrait stack (no process started yet) for ``args``'s clips."""
    redis_server = resources.enter_context(LocalRedis(root / "redis"))
    return resources.enter_context(
        running_stack(
            redis_server.url,
            root,
            f"{TENANT}:{KEY}",
            renderer="liveportrait",
            weights_dir=str(weights),
            precision=args.precision,
            frame_batch_size=str(args.batch),
            log_json="false",
            **env,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0", help="cuda:N, or cpu for a smoke run")
    clip_arguments(parser)
    parser.add_argument(
        "--encode-threads", type=int, default=Settings().encode_threads, help="per process"
    )
    args = parser.parse_args()

    from workers.renderers.liveportrait.synthetic_weights import weights_or_synthetic

    with contextlib.ExitStack() as resources:
        root = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="gpu-node-")))
        weights = resources.enter_context(weights_or_synthetic(args.weights))
        stack = liveportrait_stack(
            resources,
            root,
            weights,
            args,
            device=args.device,
            encode_threads=str(args.encode_threads),
        )
        stack.start_worker("gpu-node", "--concurrency", str(args.concurrency))
        stack.start_api()
        run = run_clips(stack, args)
    fps = run.frames / run.wall_s
    gpu = "n/a" if run.gpu_busy is None else f"{run.gpu_busy:.0%}"
    print(
        f"## A GPU node at full load: LivePortrait on {args.device} ({args.precision})\n\n"
        f"{run.clips} emotion clips of {args.frames} frames at {args.size} px, PNG frames and "
        f"an mp4 to local storage; one worker, {args.concurrency} process(es), "
        f"{args.encode_threads} encode threads each, batches of {args.batch}.\n"
    )
    print("| clips/s | frames/s | GPU busy | CPU cores busy | frames/s per busy core |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {run.clips / run.wall_s:.2f} | {fps:.1f} | {gpu} | {run.cpu_cores_busy:.1f} of "
        f"{os.cpu_count()} | {fps / max(run.cpu_cores_busy, 1e-9):.0f} |\n"
    )
    print(stage_tables(run, args.encode_threads, args.concurrency))


if __name__ == "__main__":
    main()
