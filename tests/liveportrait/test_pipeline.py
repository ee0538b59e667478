"""The whole per-frame path, from the kit's input images to its uint8 frames, through the
production loader (weights written once per session) and ``LivePortraitModel``.

Intermediate results are compared too, so a failure names the stage. The ``s128_`` chain
runs by default; the full-size drive with paste-back and the expression edit are the
slow tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import (
    KIT_SLIDER_NAMES,
    assert_close_to_golden,
    assert_image_matches_golden,
    golden,
)
from workers.renderers.liveportrait.expression_edit import edit_keypoints, expression_offsets
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.image_tensors import output_to_rgb
from workers.renderers.liveportrait.keypoints import relative_motion
from workers.renderers.liveportrait.model import LivePortraitModel, SourceState
from workers.renderers.liveportrait.pasteback import paste_back, prepare_paste_back

SIZES = [pytest.param("s128_", id="s128"), pytest.param("", id="full", marks=pytest.mark.slow)]


@pytest.fixture(autouse=True)
def _no_grad() -> Iterator[None]:
    with torch.inference_mode():
        yield


@pytest.fixture(scope="module")
def model(synthetic_weights_dir: Path) -> LivePortraitModel:
    return LivePortraitModel.from_weights_dir(synthetic_weights_dir)


def rgb(image: str, prefix: str) -> torch.Tensor:
    if not prefix:
        key = f"{image}_rgb"
    else:
        key = "source128_rgb" if image == "source" else f"{image}_128_rgb"
    return torch.from_numpy(golden("inputs")[key])


def prepared_source(model: LivePortraitModel, prefix: str) -> SourceState:
    source = model.prepare_source(rgb("source", prefix))
    assert_close_to_golden(source.feature, "appearance_feature_extractor", f"{prefix}out")
    assert_close_to_golden(source.x_s, "keypoints", f"{prefix}x_s")
    return source


def pasted_into_portrait(frames: torch.Tensor) -> np.ndarray:
    inputs, pipeline = golden("inputs"), golden("pipeline")
    plan = prepare_paste_back(
        torch.from_numpy(inputs["astronaut_full"]),
        torch.from_numpy(inputs["mask_crop_u8"]),
        torch.from_numpy(pipeline["pasteback_M_c2o"]),
    )
    pasted: np.ndarray = paste_back(frames, plan)[0].numpy()
    return pasted


def test_model_knows_its_weights(model: LivePortraitModel, synthetic_weights_dir: Path) -> None:
    assert model.weights.synthetic
    assert model.weights.fingerprint == weights_fingerprint(synthetic_weights_dir)


@pytest.mark.parametrize("prefix", SIZES)
def test_driven_frame_matches_golden(model: LivePortraitModel, prefix: str) -> None:
    source = prepared_source(model, prefix)
    reference = model.extract_motion(rgb("driving0", prefix))
    driving = model.extract_motion(rgb("driving1", prefix))
    assert_close_to_golden(driving.rotation, "keypoints", f"{prefix}driving1_R")
    x_d = relative_motion(source.motion, reference, driving).keypoints
    assert_close_to_golden(x_d, "keypoints", f"{prefix}drive_x_d")
    final = model.driven_keypoints(source, reference, driving)
    assert_close_to_golden(final, "stitching_retargeting", f"{prefix}drive_x_d_final")
    frames = model.render(source, final)
    assert_close_to_golden(frames, "spade_generator", f"{prefix}out")
    frame = output_to_rgb(frames)
    assert_image_matches_golden(frame[0].numpy(), "pipeline", f"{prefix}drive_out_u8")
    if not prefix:  # only the full-size frame has a paste-back golden
        assert_image_matches_golden(pasted_into_portrait(frame), "pipeline", "pasteback_out_u8")


def test_a_batch_of_frames_renders_each_frame(model: LivePortraitModel) -> None:
    """Two driving frames in one batch: each row gets its own keypoints and frame."""
    source = model.prepare_source(rgb("source", "s128_"))
    reference = model.extract_motion(rgb("driving0", "s128_"))
    both = model.extract_motion(torch.stack([rgb("driving1", "s128_"), rgb("driving0", "s128_")]))
    x_d = model.driven_keypoints(source, reference, both)
    assert_close_to_golden(x_d[:1], "stitching_retargeting", "s128_drive_x_d_final")
    still = model.driven_keypoints(source, reference, reference)
    torch.testing.assert_close(x_d[1:], still, atol=1e-5, rtol=0)
    frames = output_to_rgb(model.render(source, x_d)).numpy()
    assert frames.shape == (2, 256, 256, 3)
    assert_image_matches_golden(frames[0], "pipeline", "s128_drive_out_u8")
    assert not np.array_equal(frames[0], frames[1])


@pytest.mark.slow
def test_expression_edit_frame_matches_golden(model: LivePortraitModel) -> None:
    source = prepared_source(model, "")
    pipeline = golden("pipeline")
    names = [str(name) for name in pipeline["edit_slider_names"]]
    values = {
        name: torch.tensor(value, dtype=torch.float32)
        for name, value in zip(names, pipeline["edit_slider_values"], strict=True)
    }
    sliders = {ours: values[upstream] for upstream, ours in KIT_SLIDER_NAMES.items()}
    offsets = expression_offsets(sliders, like=source.motion.exp)
    pose = (values["head_pitch"], values["head_yaw"], values["head_roll"])
    edited = edit_keypoints(source.motion, offsets, pose, zoom=values["mov_z"])
    assert_close_to_golden(edited.keypoints, "pipeline", "edit_x_d")
    stitched = model.stitch(source.x_s, edited.keypoints)
    assert_close_to_golden(stitched, "pipeline", "edit_x_d_stitched")
    frames = model.render(source, stitched)
    assert_close_to_golden(frames, "pipeline", "edit_out")
    assert_image_matches_golden(output_to_rgb(frames)[0].numpy(), "pipeline", "edit_out_u8")
