"""The LivePortrait worker on a GPU, through the whole queue, with per-stage timings.

Starts a private redis-server, one ``avatar-render worker --renderer liveportrait`` on the
given device and the API (real processes, as the tests run them), registers the sample
portrait, renders a 2 s, 25 fps, 512 px clip of every emotion (the first one meets a cold
source cache), and prints each manifest's stage timings as a markdown table. Manifests, the
clips and one middle frame per job are copied to ``--out``.

    python -m scripts.gpu_queue_check --out var/gpu_queue_check [--weights DIR] [--precision fp32]
    python -m scripts.gpu_queue_check --quick     # CPU smoke check: two 2-frame clips

Run through ``scripts/gpu_queue_check.sh``, which finds a redis-server and the packages.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from render_cli.local_redis import LocalRedis
from tests.conftest import SAMPLE_PORTRAIT
from tests.stack import Stack, running_stack, wait_for_job

EMOTIONS = ("happy", "neutral", "sad", "angry", "surprised", "fearful", "disgusted")
STAGES = ("prepare_source", "render", "encode_wait", "encode_mp4_close", "storage_writes", "total")
CLIP = {"duration_ms": 2000, "fps": 25, "size": 512, "intensity": 1.0}
# --quick: a CPU smoke check of this script (two 2-frame clips at 256 px).
QUICK_EMOTIONS = ("happy", "sad")
QUICK_CLIP = {"duration_ms": 200, "fps": 10, "size": 256, "intensity": 1.0}


def keep_outputs(client: httpx.Client, manifest: dict[str, Any], out: Path, label: str) -> None:
    job_id = manifest["job_id"]
    (out / f"{label}.manifest.json").write_text(json.dumps(manifest, indent=2))
    (out / f"{label}.mp4").write_bytes(client.get(f"/v1/renders/{job_id}/clip.mp4").content)
    middle = manifest["frame_count"] // 2
    frame = client.get(f"/v1/renders/{job_id}/frames/{middle}").content
    (out / f"{label}.frame{middle:03d}.png").write_bytes(frame)


def row(label: str, manifest: dict[str, Any]) -> str:
    timings = manifest["timings_ms"]
    cells = [f"{timings.get(stage, 0.0):.0f}" for stage in STAGES]
    per_frame = timings.get("render", 0.0) / manifest["frame_count"]
    return f"| {label} | {manifest['frame_count']} | " + " | ".join(cells) + f" | {per_frame:.1f} |"


def run_jobs(
    stack: Stack, out: Path, emotions: tuple[str, ...], clip: dict[str, Any]
) -> tuple[list[str], int]:
    lines = [
        "| job | frames | " + " | ".join(STAGES) + " | render ms/frame |",
        "| --- | ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: |",
    ]
    failures = 0
    with httpx.Client(base_url=stack.api_url, timeout=60.0) as client:
        registered = client.post(
            "/v1/characters", files={"portrait": ("astronaut.png", SAMPLE_PORTRAIT.read_bytes())}
        )
        registered.raise_for_status()
        character_id = registered.json()["id"]
        for index, emotion in enumerate(emotions):
            label = f"{index}-{emotion}" + ("-cold-source" if index == 0 else "")
            # Uncached: each job renders, a repeated emotion too.
            body = {"character_id": character_id, "emotion": emotion, "cache": False, **clip}
            response = client.post("/v1/renders", json=body)
            response.raise_for_status()
            job = wait_for_job(client, response.json()["id"], timeout_s=600)
            if job["status"] != "succeeded":
                failures += 1
                lines.append(f"| {label} | {job['status']}: {job.get('error')} |")
                continue
            manifest: dict[str, Any] = client.get(f"/v1/renders/{job['id']}/manifest").json()
            keep_outputs(client, manifest, out, label)
            lines.append(row(label, manifest))
            if index == 0:
                renderer = manifest["renderer"]
                lines.insert(0, f"renderer: {json.dumps(renderer)}\n")
    return lines, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/gpu_queue_check"))
    parser.add_argument("--weights", type=Path, help="weights directory (default: synthetic)")
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    parser.add_argument("--quick", action="store_true", help="CPU smoke check of this script")
    args = parser.parse_args()
    device = "cpu" if args.quick else args.device
    emotions, clip = (QUICK_EMOTIONS, QUICK_CLIP) if args.quick else (EMOTIONS, CLIP)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Imported here: this process needs torch only to write synthetic weights.
    from workers.renderers.liveportrait.synthetic_weights import weights_or_synthetic

    with (
        weights_or_synthetic(args.weights) as weights,
        tempfile.TemporaryDirectory(prefix="gpu-queue-") as root,
        LocalRedis(Path(root) / "redis") as redis_server,
        running_stack(
            redis_server.url,
            Path(root),
            renderer="liveportrait",
            weights_dir=str(weights),
            device=device,
            precision=args.precision,
            log_json="false",
        ) as stack,
    ):
        started = time.perf_counter()
        try:
            stack.start_worker("gpu0")
            stack.start_api()
            lines, failures = run_jobs(stack, out, emotions, clip)
        finally:
            for process in [*stack.workers, stack.api]:
                if process is not None:
                    (out / process.log_path.name).write_text(process.log_tail(400))
        elapsed = time.perf_counter() - started
    report = "\n".join(
        [
            f"## LivePortrait through the queue on {device} ({args.precision})",
            "",
            "Stage timings in ms from each job's manifest (task start to manifest):",
            "",
            *lines,
            "",
            f"{len(emotions)} jobs, {failures} failed; {elapsed:.0f} s including worker start.",
        ]
    )
    print(report)
    (out / "summary.md").write_text(report + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
