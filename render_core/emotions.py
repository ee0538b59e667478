"""The emotion catalogue: the names, defaults and ranges that both sides agree on.

How a renderer moves the face is its own business; this module only fixes what a
client may ask for.
"""

from __future__ import annotations

from enum import StrEnum


class Emotion(StrEnum):
    """The seven emotions a clip can show."""

    neutral = "neutral"
    happy = "happy"
    sad = "sad"
    angry = "angry"
    surprised = "surprised"
    fearful = "fearful"
    disgusted = "disgusted"


DEFAULT_INTENSITY = 0.8

# Fine controls refine or replace a preset. Each is an offset in the control's own
# unit; the ranges are those of the renderer's expression editor.
FINE_CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "smile": (-1.0, 1.0),
    "eyebrow": (-1.0, 1.0),
    "eye_open": (-1.0, 1.0),
    "mouth_open": (0.0, 1.0),
    "head_pitch": (-20.0, 20.0),
    "head_yaw": (-30.0, 30.0),
    "head_roll": (-20.0, 20.0),
}
