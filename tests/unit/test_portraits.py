"""Portrait validation: every bad upload is refused with its own code, before anything is stored."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from producer_api.portraits import validate_portrait
from render_core.errors import RenderServiceError
from workers.png import rgb8_file


def png_bytes(width: int = 64, height: int = 48, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (10, 20, 30) if mode == "RGB" else None).save(buffer, "PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""
    return rgb8_file(width, height, zlib.compress(b"\0" * 1024))


def animated_gif() -> bytes:
    buffer = io.BytesIO()
    frames = [Image.new("P", (16, 16), i) for i in range(3)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def animated_webp() -> bytes:
    buffer = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), (i * 60, 0, 0)) for i in range(3)]
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (png_bytes()[:60], "unsupported_image", 415),
        (b"", "empty_file", 415),
        (b"name,emotion\nalice,happy\n", "unsupported_image", 415),
        (png_claiming(20_000, 20_000), "image_too_large", 413),
        (png_claiming(5000, 100), "image_too_large", 413),
        (animated_gif(), "unsupported_image", 415),
        (animated_webp(), "unsupported_image", 415),
        (b"\0" * (10 * 1024 * 1024 + 1), "image_too_large", 413),
    ],
    ids=["truncated", "empty", "text", "bomb", "too-wide", "gif", "animated-webp", "over-10mb"],
)
def test_bad_portraits_are_refused(data: bytes, code: str, status: int) -> None:
    with pytest.raises(RenderServiceError) as caught:
        validate_portrait(data)
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert caught.value.message
    if code == "image_too_large" and data[:4] == b"\x89PNG":  # the bomb and the too wide
        assert caught.value.message.endswith("at most 4096 px a side")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_accepted_formats_become_rgb_png(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 100, 50)).save(buffer, fmt)
    portrait = validate_portrait(buffer.getvalue())
    assert (portrait.width, portrait.height) == (80, 60)
    with Image.open(io.BytesIO(portrait.png)) as stored:
        assert stored.format == "PNG" and stored.mode == "RGB"


def test_transparent_pixels_become_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buffer, "PNG")
    with Image.open(io.BytesIO(validate_portrait(buffer.getvalue()).png)) as stored:
        assert stored.getpixel((0, 0)) == (255, 255, 255)
