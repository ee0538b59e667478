"""Frame encoders on this host's CPU: PNG settings, PNG threads, and the mp4's cost a frame.

The frames are the sample portrait at 512 px with a little seeded noise (±2 levels), as
rendered frames carry texture a clean photo lacks. For each PNG setting (deflate level,
row filter, match strategy): ms a frame on one thread and KB a frame; then frames a
second for the worker's setting over 1 to ``--max-threads`` threads; then libx264 as the
worker runs it, wall and CPU ms a frame (x264 runs threads of its own).

    python -m benchmarks.png_encode
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from render_cli.assets import __file__ as assets_init
from workers.encoding import PNG_PARAMS, Mp4Writer
from workers.renderer import Frame

PORTRAIT = Path(assets_init).parent / "astronaut.png"
SIZE = 512
LEVEL, FILTER, STRATEGY = (
    cv2.IMWRITE_PNG_COMPRESSION,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_STRATEGY,
)
CANDIDATES = {
    "level 1, Paeth": [LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_PAETH],
    "level 1, Paeth, RLE": [
        LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_PAETH, STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE
    ],
    "level 1, Sub, RLE": [
        LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_SUB, STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE
    ],
    "level 1, Up, RLE": [
        LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_UP, STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE
    ],
    "level 1, Sub": [LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_SUB],
    "level 0 (stored)": [LEVEL, 0],
}  # fmt: skip


def sample_frames(count: int) -> list[Frame]:
    portrait = Image.open(PORTRAIT).convert("RGB").resize((SIZE, SIZE))
    base = np.asarray(portrait, dtype=np.int16)
    rng = np.random.default_rng(0)
    return [
        np.clip(base + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8)
        for _ in range(count)
    ]


def encode(frame: Frame, params: list[int]) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
    assert ok
    return bytes(encoded.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-threads", type=int, default=16)
    args = parser.parse_args()
    frames = sample_frames(8)
    worker = next((name for name, params in CANDIDATES.items() if params == PNG_PARAMS), "?")
    print(f"## Frame encoders, {SIZE} px frames (the worker's PNG setting: {worker})\n")
    print("| PNG setting | ms a frame, 1 thread | KB a frame |")
    print("| --- | ---: | ---: |")
    for name, params in CANDIDATES.items():
        for frame in frames:
            encode(frame, params)  # warm-up
        started = time.perf_counter()
        sizes = [len(encode(frame, params)) for frame in frames * 3]
        ms = (time.perf_counter() - started) / len(sizes) * 1000
        print(f"| {name} | {ms:.1f} | {np.mean(sizes) / 1024:.0f} |")
    print("\n| PNG threads | frames/s |\n| ---: | ---: |")
    many = frames * 24
    threads = 1
    while threads <= args.max_threads:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda frame: encode(frame, PNG_PARAMS), frames))
            started = time.perf_counter()
            list(pool.map(lambda frame: encode(frame, PNG_PARAMS), many))
            print(f"| {threads} | {len(many) / (time.perf_counter() - started):.0f} |")
        threads *= 2
    with tempfile.TemporaryDirectory(prefix="bench-mp4-") as tmp:
        clip = frames * 7
        for _ in range(2):  # the first run warms the codec up
            wall, cpu = time.perf_counter(), time.process_time()
            with Mp4Writer(Path(tmp) / "clip.mp4", 25, SIZE) as writer:
                for frame in clip:
                    writer.write(frame)
        wall_ms = (time.perf_counter() - wall) / len(clip) * 1000
        cpu_ms = (time.process_time() - cpu) / len(clip) * 1000
    print(f"\nmp4 (libx264 as the worker runs it): {wall_ms:.2f} ms a frame, {cpu_ms:.2f} ms CPU")


if __name__ == "__main__":
    main()
