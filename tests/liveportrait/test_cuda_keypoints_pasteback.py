"""Keypoint maths, stitching, expression edit, paste-back and the model's s128 chain on CUDA
(float32, TF32 off), against the same goldens and tolerances as on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.liveportrait.conftest import (
    assert_close_to_golden,
    assert_image_matches_golden,
    golden,
)
from workers.renderers.liveportrait.expression_edit import edit_keypoints, expression_offsets
from workers.renderers.liveportrait.image_tensors import output_to_rgb
from workers.renderers.liveportrait.keypoints import (
    MotionState,
    decode_motion,
    relative_motion,
    transform_keypoints,
)
from workers.renderers.liveportrait.manifest import STITCHING_FILE, file_spec
from workers.renderers.liveportrait.model import LivePortraitModel
from workers.renderers.liveportrait.pasteback import paste_back, prepare_paste_back
from workers.renderers.liveportrait.state_dict import module_state_dict
from workers.renderers.liveportrait.stitching import StitchingRetargeting
from workers.renderers.liveportrait.weight_rule import rule_tensors

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    pytest.mark.usefixtures("strict_float32"),
]

CUDA = torch.device("cuda")
HEADS = ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")


def cuda_motion(image: str) -> MotionState:
    stored = golden("motion_extractor")
    return decode_motion(
        {head: torch.from_numpy(stored[f"{image}_{head}"]).to(CUDA) for head in HEADS}
    )


def test_keypoints_stitching_and_edit_on_cuda() -> None:
    source = cuda_motion("source")
    x_s = transform_keypoints(source)
    assert x_s.device.type == "cuda"
    assert_close_to_golden(x_s.cpu(), "keypoints", "x_s")
    driven = relative_motion(source, cuda_motion("driving0"), cuda_motion("driving1"))
    assert_close_to_golden(driven.keypoints.cpu(), "keypoints", "drive_x_d")

    spec = file_spec(STITCHING_FILE)
    stitching = StitchingRetargeting()
    stitching.load_state_dict(module_state_dict(spec, rule_tensors(spec)), strict=True)
    stitching.eval().to(CUDA)
    stitched = stitching.stitch(x_s, driven.keypoints)
    assert_close_to_golden(stitched.cpu(), "stitching_retargeting", "drive_x_d_stitched")

    sliders = {"smile": torch.tensor(0.7), "eye_gaze_y": torch.tensor(-10.0)}
    offsets = expression_offsets({k: v.to(CUDA) for k, v in sliders.items()}, like=source.exp)
    zero = torch.zeros(1, device=CUDA)
    edited = edit_keypoints(source, offsets, (zero, zero, zero), zoom=torch.ones(1, device=CUDA))
    expected = expression_offsets(sliders, like=source.exp.cpu())
    torch.testing.assert_close(offsets.cpu(), expected, atol=1e-7, rtol=0)
    assert edited.keypoints.device.type == "cuda"


def test_pasteback_on_cuda_matches_golden() -> None:
    inputs, pipeline = golden("inputs"), golden("pipeline")
    plan = prepare_paste_back(
        torch.from_numpy(inputs["astronaut_full"]).to(CUDA),
        torch.from_numpy(inputs["mask_crop_u8"]),
        torch.from_numpy(pipeline["pasteback_M_c2o"]),
    )
    frames = torch.from_numpy(pipeline["drive_out_u8"]).to(CUDA)[None].expand(4, -1, -1, -1)
    pasted = paste_back(frames, plan)
    assert pasted.device.type == "cuda" and pasted.shape == (4, 512, 512, 3)
    for row in pasted.cpu().numpy():
        assert_image_matches_golden(row, "pipeline", "pasteback_out_u8")


def test_model_s128_chain_on_cuda(synthetic_weights_dir: Path) -> None:
    model = LivePortraitModel.from_weights_dir(synthetic_weights_dir, device=CUDA)
    inputs = golden("inputs")
    source = model.prepare_source(torch.from_numpy(inputs["source128_rgb"]))
    assert_close_to_golden(source.x_s.cpu(), "keypoints", "s128_x_s")
    reference = model.extract_motion(torch.from_numpy(inputs["driving0_128_rgb"]))
    driving = model.extract_motion(torch.from_numpy(inputs["driving1_128_rgb"]))
    final = model.driven_keypoints(source, reference, driving)
    assert_close_to_golden(final.cpu(), "stitching_retargeting", "s128_drive_x_d_final")
    frame = output_to_rgb(model.render(source, final))[0].cpu().numpy()
    assert_image_matches_golden(frame, "pipeline", "s128_drive_out_u8")
