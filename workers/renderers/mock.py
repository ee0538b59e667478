"""The mock renderer: no torch, deterministic, runs anywhere (ARM64 included).

Each frame is the portrait at the requested size, tinted by the emotion as strongly as
the eased intensity of that frame, with the emotion, the intensity and the frame
index written on it, so a person looking at a clip sees what was asked.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from render_core.emotions import Emotion
from render_core.errors import PermanentRenderError, TransientError
from render_core.manifest import RendererDescription
from render_core.schema import Character, RenderRequest
from workers.envelope import intensity_at
from workers.motion_source import EmotionMotion, VideoMotion, motion_source
from workers.renderer import Frame

EMOTION_TINTS: dict[Emotion, tuple[int, int, int]] = {
    Emotion.neutral: (128, 128, 128),
    Emotion.happy: (255, 200, 0),
    Emotion.sad: (40, 90, 220),
    Emotion.angry: (220, 30, 30),
    Emotion.surprised: (240, 120, 240),
    Emotion.fearful: (110, 40, 160),
    Emotion.disgusted: (60, 160, 40),
}
MAX_TINT = 0.45
NEUTRAL_TINT = EMOTION_TINTS[Emotion.neutral]


@dataclass(frozen=True)
class MockSource:
    """The portrait's centred square at the render's size."""

    square: Image.Image
    from_cache: bool = False

    @property
    def size(self) -> int:
        return self.square.size[0]


@dataclass(frozen=True)
class MockPlan:
    """What every frame of a clip shows, worked out once per job."""

    title: str
    tint: tuple[int, int, int]
    intensity: float
    frame_count: int
    controls: dict[str, float]
    fault: str | None = None


def _square_crop(portrait: Frame, size: int) -> Image.Image:
    height, width = portrait.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(np.ascontiguousarray(portrait[top : top + side, left : left + side]))
    return square.resize((size, size), Image.Resampling.LANCZOS)


class MockRenderer:
    name = "mock"
    version = "1"

    def __init__(self, frame_delay_s: float = 0.0, faults: bool = False) -> None:
        self.frame_delay_s = frame_delay_s
        self.faults = faults

    def setup(self) -> None:
        """Nothing to load."""

    def describe(self) -> RendererDescription:
        return RendererDescription(name=self.name, version=self.version, device="cpu")

    def prepare(self, character: Character, portrait: Frame, size: int) -> MockSource:
        return MockSource(square=_square_crop(portrait, size))

    def plan(self, request: RenderRequest) -> MockPlan:
        match motion_source(request):
            case EmotionMotion(emotion=emotion):
                title, tint = emotion.value.upper(), EMOTION_TINTS[emotion]
            case VideoMotion(video_id=video_id):
                title, tint = f"DRIVEN BY {video_id}", NEUTRAL_TINT
        return MockPlan(
            title=title,
            tint=tint,
            intensity=request.intensity,
            frame_count=request.frame_count,
            controls=request.controls.given() if request.controls else {},
            fault=_asked_fault(request) if self.faults else None,
        )

    def render_batch(self, source: MockSource, plan: MockPlan, indices: range) -> list[Frame]:
        if plan.fault is not None:
            _inject_fault(plan.fault)
        frames = []
        for index in indices:
            if self.frame_delay_s:
                time.sleep(self.frame_delay_s)
            frames.append(_draw_frame(source.square, plan, index))
        return frames


def _asked_fault(request: RenderRequest) -> str | None:
    fault = (request.metadata or {}).get("mock_fault")
    return fault if isinstance(fault, str) else None


def _inject_fault(fault: str) -> None:
    """Failure modes for fault tests, asked for in ``metadata.mock_fault`` when enabled:
    ``crash`` ends the process as a segfault or the OOM killer would, ``transient`` and
    ``permanent`` raise those errors, ``hang`` sleeps past any time limit."""
    if fault == "crash":
        os._exit(137)
    elif fault == "transient":
        raise TransientError("mock transient fault")
    elif fault == "permanent":
        raise PermanentRenderError("mock permanent fault")
    elif fault == "hang":
        time.sleep(3600)


def _draw_frame(base: Image.Image, plan: MockPlan, index: int) -> Frame:
    total = plan.frame_count
    level = intensity_at(plan.intensity, total, index)
    colour = plan.tint
    frame = Image.blend(base, Image.new("RGB", base.size, colour), MAX_TINT * level)
    draw = ImageDraw.Draw(frame)
    size = base.size[0]
    font = ImageFont.load_default(size=max(12, size // 16))
    small = ImageFont.load_default(size=max(10, size // 24))
    bar_height = size // 5
    draw.rectangle((0, size - bar_height, size, size), fill=(0, 0, 0))
    draw.text((8, size - bar_height + 4), plan.title, fill=(255, 255, 255), font=font)
    caption = f"intensity {plan.intensity:.2f}  now {level:.2f}  frame {index + 1}/{total}"
    draw.text((8, size - bar_height // 2), caption, fill=(255, 255, 255), font=small)
    if plan.controls:
        text = "  ".join(f"{name} {value:+.2f}" for name, value in plan.controls.items())
        draw.rectangle((0, 0, size, size // 14), fill=(0, 0, 0))
        draw.text((8, 2), text, fill=(255, 255, 255), font=small)
    bar_width = int((size - 16) * level)
    draw.rectangle((8, size - 6, 8 + bar_width, size - 2), fill=colour)
    return np.asarray(frame, dtype=np.uint8)
