"""Portrait uploads: decoded completely and checked before anything is stored.

Limits are checked on the header before decoding, so a file that claims 20000x20000
pixels is refused without allocating them.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from render_core.errors import ImageTooLarge, UnsupportedImage

MAX_PORTRAIT_BYTES = 10 * 1024 * 1024
MAX_PORTRAIT_SIDE = 4096
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP"}
# What Pillow raises on malformed input (besides UnidentifiedImageError): all are the
# client's file, never our fault, so they answer 415.
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    struct.error,
)


@dataclass(frozen=True)
class Portrait:
    """A validated portrait, re-encoded as an RGB PNG."""

    png: bytes
    width: int
    height: int


def validate_portrait(data: bytes) -> Portrait:
    if not data:
        raise UnsupportedImage("the portrait file is empty", code="empty_file")
    if len(data) > MAX_PORTRAIT_BYTES:
        raise ImageTooLarge(f"the portrait is over {MAX_PORTRAIT_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(
            f"the portrait has too many pixels; at most {MAX_PORTRAIT_SIDE} px a side"
        ) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImage("the portrait is not a PNG, JPEG or WebP image") from exc
    except DECODE_ERRORS as exc:  # e.g. a text or ICC chunk over Pillow's limits
        raise UnsupportedImage(f"the portrait's header cannot be read: {exc}") from exc
    with image:
        width, height = image.size
        if width > MAX_PORTRAIT_SIDE or height > MAX_PORTRAIT_SIDE:
            raise ImageTooLarge(
                f"the portrait is {width}x{height}; at most {MAX_PORTRAIT_SIDE} px a side"
            )
        if getattr(image, "is_animated", False):
            raise UnsupportedImage("animated images are not accepted; send a still portrait")
        try:
            image.load()
        except DECODE_ERRORS as exc:
            raise UnsupportedImage(f"the portrait cannot be decoded completely: {exc}") from exc
        rgb = _to_rgb(_upright(image))
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return Portrait(png=buffer.getvalue(), width=rgb.width, height=rgb.height)


def _upright(image: Image.Image) -> Image.Image:
    """Turned as its EXIF orientation says; as it is when that EXIF is unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow warns on corrupt EXIF
            return ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Transparent pixels become white rather than black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
