"""What the face does in every frame of an emotion clip, in the expression editor's units.

An emotion is a point in the editor's slider space (smile, eyebrows, eyelids, lips, head
pose): the preset table below says where each emotion sits at intensity 1. Fine controls
move that point; the clip eases into it, holds and eases out (``workers.envelope``, the
curve the mock follows too), and natural blinks close the eyelids every 2-5 s.

Intensity 0 is the neutral source for every emotion: no offsets and no blinks at all, so
the frame is the portrait's own keypoints. Blinks are natural behaviour, not part of the
emotion: at any intensity above 0 they close the lids fully, at times drawn from the seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from math import pi

import numpy as np
from numpy.typing import NDArray

from render_core.emotions import CONTROL_RANGES, Emotion, FineControls
from render_core.schema import RenderRequest
from workers.envelope import envelope
from workers.renderers.liveportrait.expression_edit import SLIDER_RANGES

Series = NDArray[np.float64]

# Upstream applies the eyelid term inside vertical gaze with b = -y/2 (y in -63..63); here
# it is a term of its own: negative closes both eyes, positive opens them wide.
EYELID_RANGE = (-31.5, 31.5)
# Relative head pose in degrees, preset plus control, kept within the public controls'
# ranges (render_core's table): a head angle the API accepts is the angle rendered.
# Upstream's editor sliders stop at ±15/25/15; the motion extractor's pose bins span
# ±97.5 and driving videos turn heads further, so ±20/30/20 stays well inside the model.
POSE_TERMS = ("head_pitch", "head_yaw", "head_roll")
POSE_RANGES = {name: CONTROL_RANGES[name] for name in POSE_TERMS}
TERM_RANGES: dict[str, tuple[float, float]] = {
    **SLIDER_RANGES,
    "eyelid": EYELID_RANGE,
    **POSE_RANGES,
}
EXPRESSION_TERMS = tuple(name for name in TERM_RANGES if name not in POSE_RANGES)

# Which terms each emotion sets at intensity 1 (editor units; head angles in degrees).
PRESETS: dict[Emotion, dict[str, float]] = {
    Emotion.neutral: {},
    Emotion.happy: {"smile": 1.0, "lip_grin": 3.0, "eyelid": -3.0, "head_roll": 3.0},
    Emotion.sad: {
        "smile": -0.3,
        "eyebrow": -8.0,
        "eyelid": -6.0,
        "eye_gaze_y": -10.0,
        "head_pitch": 5.0,
    },
    Emotion.angry: {
        "eyebrow": -25.0,
        "eyelid": -4.0,
        "lip_purse": 8.0,
        "smile": -0.2,
        "head_pitch": 3.0,
    },
    Emotion.surprised: {"eyebrow": 25.0, "eyelid": 5.0, "lip_open": 60.0, "head_pitch": -4.0},
    Emotion.fearful: {
        "eyebrow": 18.0,
        "eyelid": 5.0,
        "lip_open": 25.0,
        "lip_grin": 6.0,
        "smile": -0.15,
        "head_yaw": -5.0,
        "head_pitch": -3.0,
    },
    Emotion.disgusted: {
        "eyebrow": -12.0,
        "eyelid": -5.0,
        "smile": -0.25,
        "lip_purse": -12.0,
        "head_yaw": 6.0,
        "head_roll": -3.0,
    },
}

# Fine controls at +1 (and -1 where they differ) in editor units.
CONTROL_SCALES: dict[str, tuple[str, float, float]] = {
    # control: (term, editor value at -1, editor value at +1)
    "smile": ("smile", -0.3, 1.3),
    "eyebrow": ("eyebrow", -30.0, 30.0),
    "eye_open": ("eyelid", -20.0, 8.0),
    "mouth_open": ("lip_open", 0.0, 120.0),
    "head_pitch": ("head_pitch", -1.0, 1.0),  # degrees map to degrees
    "head_yaw": ("head_yaw", -1.0, 1.0),
    "head_roll": ("head_roll", -1.0, 1.0),
}

BLINK_S = 0.15
BLINK_INTERVAL_S = (2.0, 5.0)
FIRST_BLINK_S = (0.3, 2.5)
BLINK_EYELID = -20.0


@dataclass(frozen=True)
class MotionPlan:
    """Per-frame term values (each (T,)) and the blink closure (T,) that is part of them."""

    terms: dict[str, Series]
    blink: Series

    @property
    def frame_count(self) -> int:
        return len(self.blink)

    def at(self, indices: range) -> dict[str, Series]:
        """The terms of frames ``indices`` (a batch)."""
        return {name: values[indices.start : indices.stop] for name, values in self.terms.items()}


def peak_terms(emotion: Emotion, controls: FineControls | None) -> dict[str, float]:
    """Every term at intensity 1: the preset moved by the controls, kept in range."""
    peak = dict.fromkeys(TERM_RANGES, 0.0)
    peak.update(PRESETS[emotion])
    for control, value in (controls.given() if controls else {}).items():
        term, at_minus_one, at_plus_one = CONTROL_SCALES[control]
        peak[term] += value * (at_plus_one if value > 0 else -at_minus_one)
    return {name: float(np.clip(value, *TERM_RANGES[name])) for name, value in peak.items()}


def blink_closure(frame_count: int, fps: int, seed: int) -> Series:
    """0 (open) to 1 (closed) per frame: a half-sine 150 ms blink every 2-5 s."""
    rng = np.random.default_rng(seed)
    times = np.arange(frame_count, dtype=np.float64) / fps
    closure = np.zeros(frame_count)
    start = rng.uniform(*FIRST_BLINK_S)
    while start < frame_count / fps:
        phase = (times - start) / BLINK_S
        inside = (phase >= 0.0) & (phase <= 1.0)
        closure[inside] = np.maximum(closure[inside], np.sin(pi * phase[inside]))
        start += rng.uniform(*BLINK_INTERVAL_S)
    return closure


def motion_plan(
    emotion: Emotion,
    intensity: float,
    frame_count: int,
    fps: int,
    controls: FineControls | None = None,
    seed: int = 0,
) -> MotionPlan:
    """The clip's terms: peak terms times intensity times the envelope, plus blinks."""
    if intensity <= 0.0:
        zeros = np.zeros(frame_count)
        return MotionPlan({name: zeros.copy() for name in TERM_RANGES}, zeros)
    weight = intensity * np.array([envelope(frame_count, i) for i in range(frame_count)])
    terms = {name: value * weight for name, value in peak_terms(emotion, controls).items()}
    blink = blink_closure(frame_count, fps, seed)
    terms["eyelid"] = np.clip(terms["eyelid"] + BLINK_EYELID * blink, *EYELID_RANGE)
    return MotionPlan(terms, blink)


def request_seed(request: RenderRequest) -> int:
    """A stable seed from the request's JSON: the same request always blinks the same way."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")


def plan_for_request(request: RenderRequest, emotion: Emotion) -> MotionPlan:
    return motion_plan(
        emotion,
        request.intensity,
        request.frame_count,
        request.fps,
        request.controls,
        request_seed(request),
    )
