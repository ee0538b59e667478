"""The motion plan: presets in the editor's ranges, eased by intensity, with seeded blinks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from render_core.emotions import CONTROL_RANGES, Emotion, FineControls
from render_core.schema import RenderRequest
from workers.renderers.liveportrait.keypoints import MotionState, decode_motion, transform_keypoints
from workers.renderers.liveportrait.motion_plan import (
    BLINK_EYELID,
    TERM_RANGES,
    MotionPlan,
    motion_plan,
    request_seed,
)
from workers.renderers.liveportrait.plan_keypoints import planned_keypoints

EXTREME_CONTROLS = [
    FineControls(smile=1, eyebrow=1, eye_open=1, mouth_open=1, head_pitch=20, head_yaw=30),
    FineControls(smile=-1, eyebrow=-1, eye_open=-1, mouth_open=0, head_roll=-20, head_yaw=-30),
]
EXPRESSIVE = [emotion for emotion in Emotion if emotion != Emotion.neutral]


def source_motion(seed: int = 3) -> MotionState:
    """A plausible decoded source: random heads through the real decoder."""
    generator = torch.Generator().manual_seed(seed)

    def heads(*shape: int, scale: float = 0.1) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * scale

    return decode_motion(
        {
            "pitch": heads(1, 66),
            "yaw": heads(1, 66),
            "roll": heads(1, 66),
            "t": heads(1, 3),
            "exp": heads(1, 63, scale=0.02),
            "scale": 1.0 + heads(1, 1),
            "kp": heads(1, 63, scale=0.5),
        }
    )


def whole(plan: MotionPlan) -> range:
    return range(plan.frame_count)


@pytest.mark.parametrize("emotion", list(Emotion))
@pytest.mark.parametrize("controls", [None, *EXTREME_CONTROLS])
def test_intensity_zero_is_the_source_itself(
    emotion: Emotion, controls: FineControls | None
) -> None:
    plan = motion_plan(emotion, 0.0, frame_count=250, fps=25, controls=controls, seed=7)
    assert all(not values.any() for values in plan.terms.values())
    assert not plan.blink.any()
    source = source_motion()
    keypoints = planned_keypoints(source, plan.at(range(0, 16)))
    x_s = transform_keypoints(source).expand(16, -1, -1)
    torch.testing.assert_close(keypoints, x_s, atol=0, rtol=0)


def displacement(plan: MotionPlan, source: MotionState) -> np.ndarray:
    """How far each frame's keypoints are from the source's, frame by frame."""
    moved = planned_keypoints(source, plan.at(whole(plan))) - transform_keypoints(source)
    distances: np.ndarray = moved.flatten(start_dim=1).norm(dim=1).numpy()
    return distances


@pytest.mark.parametrize("emotion", EXPRESSIVE)
def test_motion_grows_with_intensity(emotion: Emotion) -> None:
    source = source_motion()
    plans = [motion_plan(emotion, i, 50, 25, seed=11) for i in (0.0, 0.25, 0.5, 0.75, 1.0)]
    # Blinks are natural behaviour at any intensity above 0, not part of the emotion.
    open_eyes = plans[-1].blink == 0
    held = slice(20, 30)  # the hold of a 50-frame clip
    assert open_eyes[held].all()
    moved = np.stack([displacement(plan, source) for plan in plans])[:, open_eyes]
    assert (np.diff(moved, axis=0) >= -1e-7).all()
    peaks = np.stack([displacement(plan, source)[held].mean() for plan in plans])
    assert (np.diff(peaks) > 0).all(), peaks


def test_neutral_moves_only_its_eyelids_to_blink() -> None:
    plan = motion_plan(Emotion.neutral, 1.0, 250, 25, seed=5)
    assert plan.blink.any()
    for name, values in plan.terms.items():
        if name == "eyelid":
            np.testing.assert_allclose(values, BLINK_EYELID * plan.blink)
        else:
            assert not values.any(), name


@pytest.mark.parametrize("emotion", list(Emotion))
@pytest.mark.parametrize("controls", [None, *EXTREME_CONTROLS])
def test_every_term_stays_in_the_editor_range(
    emotion: Emotion, controls: FineControls | None
) -> None:
    plan = motion_plan(emotion, 1.0, 250, 25, controls=controls, seed=2)
    assert set(plan.terms) == set(TERM_RANGES)
    for name, values in plan.terms.items():
        low, high = TERM_RANGES[name]
        assert values.min() >= low and values.max() <= high, name


def test_clip_eases_in_and_out() -> None:
    plan = motion_plan(Emotion.happy, 1.0, 50, 25, seed=1)
    smile = plan.terms["smile"]
    assert smile[0] == 0 and smile[-1] == 0
    assert smile[25] == pytest.approx(1.0)
    assert (np.diff(smile[:13]) >= 0).all() and (np.diff(smile[-13:]) <= 0).all()


def test_blinks_are_short_seeded_and_every_few_seconds() -> None:
    fps = 50
    plan = motion_plan(Emotion.neutral, 0.5, 20 * fps, fps, seed=9)
    closed = plan.blink > 0
    starts = np.flatnonzero(closed[1:] & ~closed[:-1]) + 1
    lengths = [int(np.argmin(closed[start:])) for start in starts]
    assert 4 <= len(starts) <= 10  # 20 s with a blink every 2-5 s
    assert all(length <= 0.15 * fps + 1 for length in lengths)
    gaps_s = np.diff(starts) / fps
    assert gaps_s.min() >= 2.0 - 2 / fps and gaps_s.max() <= 5.0 + 2 / fps
    assert plan.blink.max() > 0.95

    again = motion_plan(Emotion.neutral, 0.5, 20 * fps, fps, seed=9)
    np.testing.assert_array_equal(again.blink, plan.blink)
    other = motion_plan(Emotion.neutral, 0.5, 20 * fps, fps, seed=10)
    assert not np.array_equal(other.blink, plan.blink)


def test_the_same_request_gives_the_same_plan() -> None:
    request = RenderRequest(character_id="c", emotion=Emotion.sad, metadata={"a": 1, "b": 2})
    same = RenderRequest(character_id="c", emotion=Emotion.sad, metadata={"b": 2, "a": 1})
    other = RenderRequest(character_id="c", emotion=Emotion.sad, metadata={"a": 2, "b": 2})
    assert request_seed(request) == request_seed(same) != request_seed(other)


@pytest.mark.parametrize(
    ("controls", "term", "sign"),
    [
        (FineControls(smile=-1.0), "smile", -1),
        (FineControls(eyebrow=1.0), "eyebrow", 1),
        (FineControls(eye_open=-1.0), "eyelid", -1),
        (FineControls(mouth_open=1.0), "lip_open", 1),
        (FineControls(head_yaw=10.0), "head_yaw", 1),
    ],
)
def test_controls_refine_the_preset(controls: FineControls, term: str, sign: int) -> None:
    plain = motion_plan(Emotion.happy, 0.8, 50, 25, seed=4)
    refined = motion_plan(Emotion.happy, 0.8, 50, 25, controls=controls, seed=4)
    change = refined.terms[term][25] - plain.terms[term][25]
    assert np.sign(change) == sign
    untouched = [name for name in TERM_RANGES if name != term]
    for name in untouched:
        np.testing.assert_array_equal(refined.terms[name], plain.terms[name], err_msg=name)


def test_controls_alone_move_a_neutral_face() -> None:
    plan = motion_plan(Emotion.neutral, 1.0, 50, 25, controls=FineControls(head_roll=10), seed=4)
    assert plan.terms["head_roll"][25] == pytest.approx(10.0)


@pytest.mark.parametrize("control", ["head_pitch", "head_yaw", "head_roll"])
def test_the_head_turns_as_far_as_the_api_accepts(control: str) -> None:
    """One range table: the largest angle a request may ask for is the angle rendered."""
    low, high = CONTROL_RANGES[control]
    for limit in (low, high):
        controls = FineControls.model_validate({control: limit})
        plan = motion_plan(Emotion.neutral, 1.0, 50, 25, controls=controls, seed=4)
        assert plan.terms[control][25] == pytest.approx(limit)
