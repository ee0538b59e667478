"""PNG frames written by us: the Up row filter in numpy, deflate by ISA-L, chunks by hand.

PNG is the worker's default frame format and was its largest CPU cost a frame: libpng
behind OpenCV spent about 9 ms on a 512 px frame on the dev box (17.6 ms on an H200
host), most of it in zlib's deflate. ISA-L's deflate (the ``isal`` package) makes files
of the same size at a quarter of the CPU: level 1 with the Up filter takes about 2.5 ms
and 495 KB where libpng took 8.8 ms and 498 KB (``python -m benchmarks.png_encode``).
Every step releases the GIL (numpy's subtraction, ISA-L, CRC-32), so encoder threads
run beside the render loop. The same pixels always give the same bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from isal import isal_zlib

from workers.renderer import Frame

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ISA-L levels run 0 to 3; 1 is where the size stops falling for rendered frames.
DEFLATE_LEVEL = 1
UP_FILTER = 2
# bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
RGB8 = (8, 2, 0, 0, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def up_filtered(frame: Frame) -> bytes:
    """Each row as its filter byte (Up) and its difference from the row above (mod 256)."""
    height, width = frame.shape[:2]
    rows = frame.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), dtype=np.uint8)
    filtered[:, 0] = UP_FILTER
    filtered[0, 1:] = rows[0]  # the row above the first is zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    return filtered.tobytes()


def encode_png(frame: Frame) -> bytes:
    """An RGB frame (height, width, 3) of uint8 as PNG bytes."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            f"a PNG frame is (height, width, 3) uint8, not {frame.shape} {frame.dtype}"
        )
    height, width = frame.shape[:2]
    if not (height and width):
        raise ValueError(f"a PNG frame has pixels, not {frame.shape}")
    pixels = isal_zlib.compress(up_filtered(np.ascontiguousarray(frame)), DEFLATE_LEVEL)
    return rgb8_file(width, height, pixels)


def rgb8_file(width: int, height: int, compressed: bytes) -> bytes:
    """The PNG file around filtered, compressed RGB rows."""
    header = struct.pack(">IIBBBBB", width, height, *RGB8)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", compressed) + _chunk(b"IEND", b"")
