"""What moves the face in a clip, typed: an emotion with its fine controls, or a driving video.

The request schema already refuses a request without exactly one of ``emotion`` and
``driving_video_id``; this turns that guarantee into one type renderers can match on when
they plan a clip, so no renderer checks it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from render_core.emotions import Emotion, FineControls
from render_core.schema import RenderRequest


@dataclass(frozen=True)
class EmotionMotion:
    """A preset emotion, refined by the request's fine controls (if any)."""

    emotion: Emotion
    controls: FineControls | None


@dataclass(frozen=True)
class VideoMotion:
    """The motion of a registered driving video, relative to its first frame."""

    video_id: str


MotionSource = EmotionMotion | VideoMotion


def motion_source(request: RenderRequest) -> MotionSource:
    """The request's one motion source (validated by the schema, only narrowed here)."""
    if request.driving_video_id is not None:
        return VideoMotion(request.driving_video_id)
    return EmotionMotion(cast(Emotion, request.emotion), request.controls)
