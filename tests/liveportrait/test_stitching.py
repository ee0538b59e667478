"""Stitching and eye/lip retargeting against ``stitching_retargeting.npz``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import assert_close_to_golden, golden
from workers.renderers.liveportrait.manifest import STITCHING_FILE, file_spec
from workers.renderers.liveportrait.state_dict import module_state_dict
from workers.renderers.liveportrait.stitching import StitchingRetargeting, scale_motion
from workers.renderers.liveportrait.weight_rule import rule_tensors

SIZES = ("", "s128_")


@pytest.fixture(scope="module")
def stitching() -> StitchingRetargeting:
    spec = file_spec(STITCHING_FILE)
    module = StitchingRetargeting().eval()
    module.load_state_dict(module_state_dict(spec, rule_tensors(spec)), strict=True)
    return module


def stored(name: str, key: str) -> torch.Tensor:
    return torch.from_numpy(golden(name)[key])


def test_module_keys_are_the_manifest_keys_of_the_file() -> None:
    expected = {tensor.key: tensor.shape for tensor in file_spec(STITCHING_FILE).tensors}
    actual = {key: tuple(value.shape) for key, value in StitchingRetargeting().state_dict().items()}
    assert actual == expected


@pytest.mark.parametrize(
    ("net", "attribute"),
    [("stitching", "retarget_shoulder"), ("lip", "retarget_mouth"), ("eye", "retarget_eye")],
)
def test_each_mlp_alone_matches_golden(
    stitching: StitchingRetargeting, net: str, attribute: str
) -> None:
    with torch.no_grad():
        out = getattr(stitching, attribute)(stored("stitching_retargeting", f"mlp_{net}_in"))
    assert_close_to_golden(out, "stitching_retargeting", f"mlp_{net}_out")


@pytest.mark.parametrize("prefix", SIZES)
def test_stitching_of_driven_keypoints_matches_golden(
    stitching: StitchingRetargeting, prefix: str
) -> None:
    x_s = stored("keypoints", f"{prefix}x_s")
    x_d = stored("keypoints", f"{prefix}drive_x_d")
    with torch.no_grad():
        raw = stitching.stitching_output(x_s, x_d)
        stitched = stitching.stitch(x_s, x_d)
    assert_close_to_golden(raw, "stitching_retargeting", f"{prefix}drive_stitch_raw")
    assert_close_to_golden(stitched, "stitching_retargeting", f"{prefix}drive_x_d_stitched")
    final = scale_motion(x_s, stitched, 1.0)
    assert_close_to_golden(final, "stitching_retargeting", f"{prefix}drive_x_d_final")


def test_eye_and_lip_retargeting_match_golden(stitching: StitchingRetargeting) -> None:
    x_s = stored("keypoints", "x_s")
    with torch.no_grad():
        eye = stitching.eye_delta(x_s, stored("stitching_retargeting", "eye_ratio"))
        lip = stitching.lip_delta(x_s, stored("stitching_retargeting", "lip_ratio"))
        retargeted = x_s + eye + lip
        stitched = stitching.stitch(x_s, retargeted)
    assert_close_to_golden(eye, "stitching_retargeting", "eye_delta")
    assert_close_to_golden(lip, "stitching_retargeting", "lip_delta")
    assert_close_to_golden(retargeted, "stitching_retargeting", "retarget_x_d")
    assert_close_to_golden(stitched, "stitching_retargeting", "retarget_x_d_stitched")


def test_one_source_serves_a_batch_of_frames(stitching: StitchingRetargeting) -> None:
    x_s = stored("keypoints", "x_s")
    frames = torch.cat([stored("keypoints", "drive_x_d"), x_s + 0.01])
    ratios = torch.tensor([[0.32, 0.30, 0.05], [0.32, 0.30, 0.4]])
    with torch.no_grad():
        stitched = stitching.stitch(x_s, frames)
        eyes = stitching.eye_delta(x_s, ratios)
        for index in range(2):
            alone = stitching.stitch(x_s, frames[index : index + 1])
            torch.testing.assert_close(stitched[index : index + 1], alone, atol=1e-6, rtol=0)
    assert stitched.shape == (2, 21, 3) and eyes.shape == (2, 21, 3)
    assert not np.allclose(eyes[0].numpy(), eyes[1].numpy()), "eye target must matter"


def test_driving_multiplier_scales_motion_from_source() -> None:
    x_s = stored("keypoints", "x_s")
    x_d = stored("keypoints", "drive_x_d")
    torch.testing.assert_close(scale_motion(x_s, x_d, 0.0), x_s)
    torch.testing.assert_close(scale_motion(x_s, x_d, 2.0) - x_s, 2 * (x_d - x_s))
