"""A contact sheet: one row per render, a few frames each, labelled, in one PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

THUMB = 160
LABEL_WIDTH = 150


def sample_indices(frame_count: int, per_row: int) -> list[int]:
    """Evenly spaced frames from first to last."""
    if frame_count <= per_row:
        return list(range(frame_count))
    step = (frame_count - 1) / (per_row - 1)
    return [round(i * step) for i in range(per_row)]


def write_contact_sheet(rows: Sequence[tuple[str, Sequence[bytes]]], path: Path) -> None:
    columns = max(len(frames) for _, frames in rows)
    sheet = Image.new("RGB", (LABEL_WIDTH + columns * THUMB, len(rows) * THUMB), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=20)
    for row, (label, frames) in enumerate(rows):
        top = row * THUMB
        draw.text((10, top + THUMB // 2 - 12), label, fill=(240, 240, 240), font=font)
        for column, png in enumerate(frames):
            with Image.open(io.BytesIO(png)) as frame:
                thumb = frame.convert("RGB").resize((THUMB, THUMB), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (LABEL_WIDTH + column * THUMB, top))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
