"""Expression editing against ``pipeline.npz`` (``edit_*``), from the stored source motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import KIT_SLIDER_NAMES, assert_close_to_golden, golden
from workers.renderers.liveportrait.expression_edit import (
    SLIDER_RANGES,
    edit_keypoints,
    expression_offsets,
)
from workers.renderers.liveportrait.keypoints import MotionState, decode_motion

HEADS = ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")


def source_motion() -> MotionState:
    stored = golden("motion_extractor")
    return decode_motion({head: torch.from_numpy(stored[f"source_{head}"]) for head in HEADS})


def golden_sliders() -> dict[str, torch.Tensor]:
    pipeline = golden("pipeline")
    names = [str(name) for name in pipeline["edit_slider_names"]]
    return {
        name: torch.tensor(value, dtype=torch.float32)
        for name, value in zip(names, pipeline["edit_slider_values"], strict=True)
    }


def test_edit_matches_golden() -> None:
    source = source_motion()
    assert_close_to_golden(source.exp, "pipeline", "edit_exp_before")
    sliders = golden_sliders()
    ours = {ours: sliders[upstream] for upstream, ours in KIT_SLIDER_NAMES.items()}
    offsets = expression_offsets(ours, like=source.exp)
    pose = (sliders["head_pitch"], sliders["head_yaw"], sliders["head_roll"])
    edited = edit_keypoints(source, offsets, pose, zoom=sliders["mov_z"])
    assert_close_to_golden(edited.delta, "pipeline", "edit_delta_new")
    assert_close_to_golden(edited.rotation, "pipeline", "edit_R_d_new")
    assert_close_to_golden(edited.keypoints, "pipeline", "edit_x_d")


def test_no_sliders_change_nothing() -> None:
    source = source_motion()
    offsets = expression_offsets({}, like=source.exp)
    assert torch.count_nonzero(offsets) == 0
    zero = torch.zeros(1)
    edited = edit_keypoints(source, offsets, (zero, zero, zero), zoom=torch.ones(1))
    torch.testing.assert_close(edited.rotation, source.rotation, atol=1e-6, rtol=0)
    place_with_full_t = source.scale[..., None] * (source.kp @ source.rotation + source.exp)
    torch.testing.assert_close(edited.keypoints, place_with_full_t + source.t[:, None, :])


def test_sign_selected_terms() -> None:
    """Gaze x and eyebrow move different coordinates depending on their sign."""
    like = torch.zeros(4, 21, 3)
    offsets = expression_offsets(
        {
            "eye_gaze_x": torch.tensor([10.0, -10.0, 0.0, 0.0]),
            "eyebrow": torch.tensor([0.0, 0.0, 10.0, -10.0]),
        },
        like=like,
    )
    np.testing.assert_allclose(offsets[0, [11, 15], 0], [0.007, 0.01], rtol=1e-6)
    np.testing.assert_allclose(offsets[1, [11, 15], 0], [-0.01, -0.007], rtol=1e-6)
    np.testing.assert_allclose(offsets[2, [1, 2], 1], [0.01, -0.01], rtol=1e-6)
    assert offsets[2, [1, 2], 0].abs().sum() == 0
    np.testing.assert_allclose(offsets[3, [1, 2], 0], [0.01, -0.01], rtol=1e-6)
    np.testing.assert_allclose(offsets[3, [1, 2], 1], [-0.003, 0.003], rtol=1e-6)


def test_batch_rows_are_independent_and_linear() -> None:
    like = torch.zeros(3, 21, 3)
    batch = expression_offsets({"smile": torch.tensor([0.0, 0.5, 1.0])}, like=like)
    assert batch[0].abs().sum() == 0
    torch.testing.assert_close(batch[2], 2 * batch[1])
    assert batch[2, 14, 1].item() == pytest.approx(-0.02)


def test_unknown_slider_is_rejected() -> None:
    with pytest.raises(ValueError, match="frown"):
        expression_offsets({"frown": torch.tensor(1.0)}, like=torch.zeros(1, 21, 3))


def test_every_slider_moves_something() -> None:
    like = torch.zeros(1, 21, 3)
    for name, (low, high) in SLIDER_RANGES.items():
        extreme = high if abs(high) >= abs(low) else low
        offsets = expression_offsets({name: torch.tensor(extreme)}, like=like)
        assert offsets.abs().max() > 0, name
