"""One LivePortrait render job, stage by stage: where the time of a clip goes.

The stages a worker runs for an emotion clip, in its order, with the production renderer
and encoders: source preparation (cold, then from the device cache and from storage), the
clip's plan and its keypoints, W+G (eager, then as the worker runs it: compiled and
replayed as a CUDA graph unless ``--eager``), the renderer's whole batch call (keypoints,
W+G, paste-back, the copy to the host), paste-back alone, PNG and mp4 encoding and the
storage writes under the output contract's keys. Every stage calls the renderer's own
code (its plan, keypoints and paste-back plan), so the numbers follow the worker when it
changes. GPU stages are timed after ``torch.cuda.synchronize``; every stage runs once
after a warm-up clip.

    python -m benchmarks.render_job                    # CUDA: 2 s, 25 fps, 512 px, fp16
    python -m benchmarks.render_job --precision fp32
    python -m benchmarks.render_job --eager            # the worker without compile and graphs
    python -m benchmarks.render_job --weights DIR      # real checkpoints instead of the rule
    python -m benchmarks.render_job --quick            # CPU smoke check: 2 frames at 256 px
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from render_cli.assets import __file__ as assets_init
from render_core import keys
from render_core.emotions import Emotion
from render_core.manifest import RenderManifest
from render_core.schema import Character, FrameFormat, RenderRequest
from render_core.settings import Settings
from render_core.storage import LocalStore
from workers.encoding import Mp4Writer, encode_frame
from workers.renderer import Frame
from workers.renderers.liveportrait.image_tensors import output_to_rgb
from workers.renderers.liveportrait.pasteback import paste_back
from workers.renderers.liveportrait.renderer import CROP_SIDES, LivePortraitRenderer
from workers.renderers.liveportrait.source_cache import SourceCache, SourceKey
from workers.renderers.liveportrait.source_crop import source_crop
from workers.renderers.liveportrait.synthetic_weights import weights_or_synthetic

PORTRAIT = Path(assets_init).parent / "astronaut.png"
T = TypeVar("T")


@dataclass
class Stages:
    device: torch.device
    frames: int
    rows: list[tuple[str, float, str]] = field(default_factory=list)

    def timed(self, stage: str, run: Callable[[], T], note: str = "") -> T:
        self._sync()
        started = time.perf_counter()
        result = run()
        self._sync()
        self.rows.append((stage, (time.perf_counter() - started) * 1000.0, note))
        return result

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def ms(self, stage: str) -> float:
        return next(ms for name, ms, _ in self.rows if name == stage)

    def table(self) -> str:
        lines = ["| stage | ms | ms per frame | note |", "| --- | ---: | ---: | --- |"]
        for stage, ms, note in self.rows:
            lines.append(f"| {stage} | {ms:.1f} | {ms / self.frames:.2f} | {note} |")
        return "\n".join(lines)


PARALLEL_PNG = "PNG encoding, in parallel"
RENDER_BATCHES = "render_batch (keypoints, W+G, paste-back, to host)"
PASTE_BACK = "paste-back (inside render_batch)"


def character(character_id: str, portrait: Frame) -> Character:
    return Character(
        id=character_id,
        tenant="bench",
        name=None,
        width=portrait.shape[1],
        height=portrait.shape[0],
        portrait_key=f"characters/{character_id}/portrait.png",
        portrait_sha256="0" * 64,
    )


def run_clip(
    renderer: LivePortraitRenderer,
    request: RenderRequest,
    portrait: Frame,
    store: LocalStore,
    batch_size: int,
    encode_threads: int,
) -> Stages:
    device = renderer.model.device
    stages = Stages(device, request.frame_count)
    subject = character(f"bench-{time.monotonic_ns()}", portrait)
    cold = stages.timed(
        "source: prepare cold", lambda: renderer.prepare(subject, portrait, request.size)
    )
    assert not cold.from_cache
    cached = stages.timed(
        "source: device cache", lambda: renderer.prepare(subject, portrait, request.size)
    )
    assert cached.from_cache
    side = CROP_SIDES[request.size]
    crop = source_crop(subject, portrait, side)
    key = SourceKey(subject.id, renderer.model.weights.fingerprint, side)
    fresh = SourceCache(store, capacity=1, device=device)
    stored = stages.timed(
        "source: storage cache", lambda: fresh.get(key, crop.crop_to_original), f"{side} px only"
    )
    assert stored is not None, "the renderer's prepare no longer writes where this reads"

    state = cold.state
    clip_plan = stages.timed("clip plan (once per job)", lambda: renderer.plan(request))
    stitched = stages.timed(
        "keypoints (stitched, whole clip)",
        lambda: renderer.keypoints(cold, clip_plan, range(request.frame_count)),
    )
    model = renderer.model
    fp16 = renderer.frame_step.options.half_precision

    def eager_networks() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.float16, enabled=fp16):
            return torch.cat(
                [
                    output_to_rgb(model.render(state, stitched[i : i + batch_size]))
                    for i in range(0, len(stitched), batch_size)
                ]
            )

    stages.timed("W+G eager (warp, decode)", eager_networks, f"batch {batch_size}")
    step = renderer.frame_step
    on_device = stages.timed(
        "W+G as the worker runs it", lambda: step(state, stitched), f"{step.mode}"
    )

    def renderer_batches() -> list[Frame]:
        frames: list[Frame] = []
        for start in range(0, request.frame_count, batch_size):
            stop = min(request.frame_count, start + batch_size)
            frames += renderer.render_batch(cold, clip_plan, range(start, stop))
        return frames

    frames = stages.timed(RENDER_BATCHES, renderer_batches)
    stages.timed(PASTE_BACK, lambda: paste_back(on_device, cold.paste_plan))

    pngs = stages.timed(
        "PNG encoding, 1 thread", lambda: [encode_frame(f, FrameFormat.png) for f in frames]
    )
    with ThreadPoolExecutor(max_workers=encode_threads) as pool:
        stages.timed(
            PARALLEL_PNG,
            lambda: list(pool.map(lambda f: encode_frame(f, FrameFormat.png), frames)),
            f"{encode_threads} threads, as the pipeline",
        )
    with tempfile.TemporaryDirectory(prefix="bench-mp4-") as tmp:
        clip = Path(tmp) / "clip.mp4"

        def encode_mp4() -> None:
            with Mp4Writer(clip, request.fps, request.size) as writer:
                for frame in frames:
                    writer.write(frame)

        stages.timed("mp4 encoding", encode_mp4)
        prefix = keys.attempt_prefix(subject.id, 1)

        def write_outputs() -> None:
            for index, data in enumerate(pngs):
                store.put_bytes(keys.frame_key(prefix, index), data, "image/png")
            store.put_file(keys.clip_key(prefix), clip, "video/mp4")
            manifest = RenderManifest(
                job_id=subject.id,
                attempt=1,
                request=request,
                renderer=renderer.describe(),
                fps=request.fps,
                width=request.size,
                height=request.size,
                frame_count=request.frame_count,
            )
            store.put_bytes(
                keys.manifest_key(prefix), manifest.model_dump_json().encode(), "application/json"
            )

        stages.timed("storage writes (local disk)", write_outputs, "frames, clip, manifest")
    return stages


def summary(stages: Stages) -> str:
    per_job = [
        "clip plan (once per job)",
        RENDER_BATCHES,
        PARALLEL_PNG,
        "mp4 encoding",
        "storage writes (local disk)",
    ]
    rest = sum(stages.ms(stage) for stage in per_job)
    cold = stages.ms("source: prepare cold") + rest
    warm = stages.ms("source: device cache") + rest
    return (
        f"Stages one after another: {cold:.0f} ms with a cold source, {warm:.0f} ms with a "
        f"cached one ({warm / stages.frames:.1f} ms a frame); paste-back, part of "
        f"render_batch, took {stages.ms(PASTE_BACK):.0f} ms of it. "
        "The worker encodes and stores a batch while the next one renders, so a job through "
        "the queue takes less: see the manifests' timings (scripts/gpu_queue_check.sh)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny CPU run (a smoke check)")
    parser.add_argument("--weights", type=Path, help="weights directory (default: synthetic)")
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    parser.add_argument("--batch", type=int, default=16, help="frames per render_batch call")
    parser.add_argument(
        "--eager", action="store_true", help="no torch.compile, no CUDA graphs in the worker"
    )
    parser.add_argument("--emotion", type=Emotion, default=Emotion.happy)
    parser.add_argument(
        "--encode-threads",
        type=int,
        default=Settings().encode_threads,
        help="RENDER_ENCODE_THREADS",
    )
    args = parser.parse_args()
    device = "cpu" if args.quick else args.device
    size, duration_ms, fps = (256, 200, 10) if args.quick else (512, 2000, 25)
    request = RenderRequest(
        character_id="bench",
        emotion=args.emotion,
        intensity=1.0,
        duration_ms=duration_ms,
        fps=fps,
        size=size,
    )
    portrait = np.array(Image.open(PORTRAIT).convert("RGB"), dtype=np.uint8)
    with weights_or_synthetic(args.weights) as weights, tempfile.TemporaryDirectory() as storage:
        settings = Settings(
            renderer="liveportrait",
            weights_dir=weights,
            device=device,
            precision=args.precision,
            storage_url=Path(storage).as_uri(),
            frame_batch_size=args.batch,
            torch_compile=not args.eager,
            cuda_graphs=not args.eager,
        )
        store = LocalStore(Path(storage))
        renderer = LivePortraitRenderer(settings, store)
        started = time.perf_counter()
        renderer.setup()
        setup_s = time.perf_counter() - started
        run_clip(
            renderer, request, portrait, store, args.batch, args.encode_threads
        )  # warm-up clip
        stages = run_clip(renderer, request, portrait, store, args.batch, args.encode_threads)
        described = renderer.describe()
    print(
        f"## One render job: {request.emotion} {duration_ms} ms at {fps} fps, {size} px, "
        f"{request.frame_count} frames\n\n"
        f"device {described.device}, weights {(described.weights_fingerprint or '')[:12]}"
        f"{' (synthetic)' if described.synthetic_weights else ''}, "
        f"setup (load + warm-up) {setup_s:.1f} s, torch {torch.__version__}\n"
    )
    print(stages.table())
    print()
    print(summary(stages))


if __name__ == "__main__":
    main()
