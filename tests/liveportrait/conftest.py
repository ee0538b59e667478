"""Fixtures for the LivePortrait conformance tests: the kit's goldens and the rule weights."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from workers.renderers.liveportrait.manifest import file_specs
from workers.renderers.liveportrait.synthetic_weights import write_synthetic_weights
from workers.renderers.liveportrait.weight_rule import rule_tensors

REPO_ROOT = Path(__file__).resolve().parents[2]
# The kit lives in ../shared beside a checkout; a copy inside the checkout (ignored by git)
# is how it travels to the GPU machine.
KIT_CANDIDATES = (
    REPO_ROOT.parent / "shared" / "liveportrait",
    REPO_ROOT / "shared" / "liveportrait",
)


def kit_dir() -> Path:
    for candidate in KIT_CANDIDATES:
        if (candidate / "golden" / "index.json").is_file():
            return candidate
    raise FileNotFoundError(f"LivePortrait kit not found in any of {KIT_CANDIDATES}")


@cache
def golden(name: str) -> dict[str, np.ndarray]:
    with np.load(kit_dir() / "golden" / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


@cache
def golden_atol(name: str, key: str) -> float:
    index = json.loads((kit_dir() / "golden" / "index.json").read_text())
    atol = index["files"][f"{name}.npz"]["keys"][key]["atol"]
    return float(atol) if atol is not None else 0.0


def assert_close_to_golden(actual: Any, name: str, key: str) -> None:
    """Compare with a golden array at the kit's absolute tolerance (rtol 0)."""
    expected = golden(name)[key]
    got = np.asarray(actual, dtype=np.float64).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=0, atol=golden_atol(name, key), err_msg=key)


def assert_image_matches_golden(actual: np.ndarray, name: str, key: str) -> None:
    """uint8 images: max |diff| <= 1 and at most 0.5 % of values differing."""
    expected = golden(name)[key]
    assert actual.shape == expected.shape and actual.dtype == np.uint8
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1, f"{key}: max diff {diff.max()}"
    assert (diff > 0).mean() <= 0.005, f"{key}: {(diff > 0).mean():.4%} of values differ"


@pytest.fixture(scope="session")
def rule_weights() -> dict[str, dict[str, np.ndarray]]:
    """Rule-v1 tensors for every checkpoint file, keyed by file name then manifest key."""
    return {spec.file: rule_tensors(spec) for spec in file_specs()}


@pytest.fixture(scope="session")
def synthetic_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The rule weights written once per session in the official layout; the 520 MB are
    removed afterwards rather than left in pytest's kept temporary directories."""
    weights_dir = tmp_path_factory.mktemp("liveportrait_weights")
    write_synthetic_weights(weights_dir)
    yield weights_dir
    shutil.rmtree(weights_dir, ignore_errors=True)


# The kit's slider names (pipeline.npz edit_slider_names) to our expression-edit names.
KIT_SLIDER_NAMES = {
    "eyeball_direction_x": "eye_gaze_x",
    "eyeball_direction_y": "eye_gaze_y",
    "smile": "smile",
    "wink": "wink",
    "eyebrow": "eyebrow",
    "lip_variation_zero": "lip_pout",
    "lip_variation_one": "lip_purse",
    "lip_variation_two": "lip_grin",
    "lip_variation_three": "lip_open",
    "mov_x": "move_x",
    "mov_y": "move_y",
}

GoldenLoader = Callable[[str], dict[str, np.ndarray]]


@pytest.fixture
def strict_float32() -> Iterator[None]:
    """TF32 convolutions alone cost ~1e-2 on the image; the goldens' atol assumes full fp32."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.inference_mode():
        yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
