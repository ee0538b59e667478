"""How strongly an emotion shows over a clip: ease in, hold, ease out.

Both renderers follow the same curve, so a mock clip and a LivePortrait clip of one
request peak and rest at the same frames.
"""

from __future__ import annotations

EASE_FRACTION = 0.25


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def envelope(frame_count: int, index: int) -> float:
    """The emotion's weight (0..1) at ``index``: up over the first quarter, down over the last."""
    if frame_count <= 2:
        return 1.0
    ramp = max(1.0, EASE_FRACTION * (frame_count - 1))
    position = float(index)
    rise = _smoothstep(position / ramp)
    fall = _smoothstep((frame_count - 1 - position) / ramp)
    return min(rise, fall)


def intensity_at(intensity: float, frame_count: int, index: int) -> float:
    return intensity * envelope(frame_count, index)
