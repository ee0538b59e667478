"""Test portraits made from the bundled astronaut: one face, two faces, none."""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from tests.conftest import SAMPLE_PORTRAIT

ASTRONAUT_HEAD = (140, 20, 310, 220)
"""Left, top, right, bottom of the astronaut's head and hair in the 512x512 sample."""


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def rgb(image: Image.Image) -> NDArray[np.uint8]:
    return np.asarray(image.convert("RGB"))


def astronaut() -> Image.Image:
    return Image.open(SAMPLE_PORTRAIT).convert("RGB")


def two_faces(big: float = 1.4, small: float = 0.8) -> tuple[Image.Image, int]:
    """The astronaut's head twice, at two sizes; answers the canvas and the big head's left."""
    head = astronaut().crop(ASTRONAUT_HEAD)
    canvas = Image.new("RGB", (900, 450), (128, 128, 128))
    small_head = head.resize((round(head.width * small), round(head.height * small)))
    big_head = head.resize((round(head.width * big), round(head.height * big)))
    canvas.paste(small_head, (60, 100))
    big_left = 420
    canvas.paste(big_head, (big_left, 80))
    return canvas, big_left


def blank() -> Image.Image:
    return Image.new("RGB", (512, 512), (240, 240, 240))


def noise(seed: int = 7) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def landscape() -> Image.Image:
    """Sky, sun, hills and a lake: shapes and gradients, and no face."""
    width, height = 768, 512
    sky = np.linspace([90, 150, 230], [200, 225, 250], height // 2).astype(np.uint8)
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[: height // 2] = sky[:, None, :]
    pixels[height // 2 :] = (40, 110, 60)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    draw.ellipse((560, 50, 660, 150), fill=(255, 220, 120))
    xs = np.arange(width)
    ridge = height // 2 - 60 + 40 * np.sin(xs / 70.0) + 15 * np.sin(xs / 23.0)
    draw.polygon(
        [(0, height), *zip(xs.tolist(), ridge.tolist(), strict=True), (width, height)],
        fill=(60, 120, 70),
    )
    draw.ellipse((150, 380, 520, 470), fill=(70, 120, 180))
    return image
