"""Frame encoders on this host's CPU: PNG writers, PNG threads, and the mp4's cost a frame.

The frames are the sample portrait at 512 px with a little seeded noise (±2 levels), as
rendered frames carry texture a clean photo lacks. For each PNG writer (ours on ISA-L's
deflate at its levels and row filters, and libpng through OpenCV at the settings the
worker used before): ms a frame on one thread and KB a frame; then frames a second for
the worker's writer over 1 to ``--max-threads`` threads; then libx264 as the worker runs
it, wall and CPU ms a frame (x264 runs threads of its own).

    python -m benchmarks.png_encode
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from isal import isal_zlib
from PIL import Image

from render_cli.assets import __file__ as assets_init
from workers import png
from workers.encoding import Mp4Writer
from workers.renderer import Frame

Encoder = Callable[[Frame], bytes]

PORTRAIT = Path(assets_init).parent / "astronaut.png"
SIZE = 512
LEVEL, FILTER, STRATEGY = (
    cv2.IMWRITE_PNG_COMPRESSION,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_STRATEGY,
)
LIBPNG = {
    "libpng level 1, Paeth": [LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_PAETH],
    "libpng level 1, Sub, RLE (the worker's before)": [
        LEVEL, 1, FILTER, cv2.IMWRITE_PNG_FILTER_SUB, STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE
    ],
    "libpng level 0 (stored)": [LEVEL, 0],
}  # fmt: skip
WORKER = f"ours, ISA-L level {png.DEFLATE_LEVEL}, Up (the worker's)"


def _libpng(params: list[int]) -> Encoder:
    def encode(frame: Frame) -> bytes:
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        assert ok
        return bytes(encoded.tobytes())

    return encode


def _ours(level: int, row_filter: Callable[[Frame], bytes]) -> Encoder:
    def encode(frame: Frame) -> bytes:
        height, width = frame.shape[:2]
        return png.rgb8_file(width, height, isal_zlib.compress(row_filter(frame), level))

    return encode


def _sub_filtered(frame: Frame) -> bytes:
    rows = frame.reshape(frame.shape[0], -1)
    filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 1
    filtered[:, 1:4] = rows[:, :3]
    np.subtract(rows[:, 3:], rows[:, :-3], out=filtered[:, 4:])
    return filtered.tobytes()


def candidates() -> dict[str, Encoder]:
    found: dict[str, Encoder] = {WORKER: png.encode_png}
    for level in (0, 2, 3):
        found[f"ours, ISA-L level {level}, Up"] = _ours(level, png.up_filtered)
    found[f"ours, ISA-L level {png.DEFLATE_LEVEL}, Sub"] = _ours(png.DEFLATE_LEVEL, _sub_filtered)
    found.update({name: _libpng(params) for name, params in LIBPNG.items()})
    return found


def sample_frames(count: int) -> list[Frame]:
    portrait = Image.open(PORTRAIT).convert("RGB").resize((SIZE, SIZE))
    base = np.asarray(portrait, dtype=np.int16)
    rng = np.random.default_rng(0)
    return [
        np.clip(base + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8)
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-threads", type=int, default=16)
    args = parser.parse_args()
    frames = sample_frames(8)
    print(f"## Frame encoders, {SIZE} px frames\n")
    print("| PNG writer | ms a frame, 1 thread | KB a frame |")
    print("| --- | ---: | ---: |")
    for name, encode in candidates().items():
        for frame in frames:
            encode(frame)  # warm-up
        started = time.perf_counter()
        sizes = [len(encode(frame)) for frame in frames * 3]
        ms = (time.perf_counter() - started) / len(sizes) * 1000
        print(f"| {name} | {ms:.1f} | {np.mean(sizes) / 1024:.0f} |")
    print("\n| PNG threads | frames/s |\n| ---: | ---: |")
    many = frames * 24
    threads = 1
    while threads <= args.max_threads:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(png.encode_png, frames))
            started = time.perf_counter()
            list(pool.map(png.encode_png, many))
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
