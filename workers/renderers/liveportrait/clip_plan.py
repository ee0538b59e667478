"""A LivePortrait clip planned once per job: what drives the keypoints of every frame.

Planning is the per-job work that does not depend on the portrait: an emotion's editor
terms over time (blinks seeded by the request), or a driving video's motion (decoded and
extracted once per video, then cached). Each batch only reads its frames from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.renderers.liveportrait.driving_motion import DrivingMotion
from workers.renderers.liveportrait.motion_plan import MotionPlan


@dataclass(frozen=True)
class EmotionPlan:
    """An emotion clip: the editor terms of every frame, blinks included."""

    motion: MotionPlan


@dataclass(frozen=True)
class DrivenPlan:
    """A driving-video clip: the video's motion, shown at the clip's ``fps`` and scaled by
    ``intensity`` (upstream's driving multiplier; 0 is the still source)."""

    driving: DrivingMotion
    fps: int
    intensity: float


LivePortraitPlan = EmotionPlan | DrivenPlan
