"""The weight rule reproduces the kit's self-checks, so a broken rule fails here, loudly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from workers.renderers.liveportrait.manifest import file_spec, file_specs, raw_manifest
from workers.renderers.liveportrait.weight_rule import rule_sha256

SAMPLED_KEYS = {
    "appearance_feature_extractor.pth": ("first.conv.weight", "first.norm.running_var"),
    "motion_extractor.pth": ("detector.fc_scale.bias", "detector.fc_kp.weight"),
    "spade_generator.pth": ("G_middle_0.conv_0.weight_orig", "G_middle_0.conv_0.weight_u"),
    "stitching_retargeting_module.pth": ("retarget_eye.mlp.10.weight",),
}


@pytest.mark.parametrize("file", [spec.file for spec in file_specs()])
def test_rule_sha256_matches_manifest(rule_weights, file: str) -> None:
    assert rule_sha256(rule_weights[file]) == file_spec(file).rule_sha256


@pytest.mark.parametrize("file", [spec.file for spec in file_specs()])
def test_rule_covers_every_manifest_tensor_with_its_shape_and_dtype(rule_weights, file) -> None:
    tensors = rule_weights[file]
    for spec in file_spec(file).tensors:
        assert tensors[spec.key].shape == spec.shape, spec.key
        assert tensors[spec.key].dtype == np.dtype(spec.dtype), spec.key
    assert len(tensors) == len(file_spec(file).tensors)


def manifest_check(file: str, key: str) -> dict[str, Any]:
    entry = next(e for e in raw_manifest()["files"] if e["file"] == file)
    check: dict[str, Any] = next(t for t in entry["tensors"] if t["key"] == key)["check"]
    return check


@pytest.mark.parametrize(
    ("file", "key"), [(file, key) for file, keys in SAMPLED_KEYS.items() for key in keys]
)
def test_per_tensor_check_values(rule_weights, file: str, key: str) -> None:
    check = manifest_check(file, key)
    values = rule_weights[file][key]
    # weight_u may differ in its last bit with the BLAS; the kit says compare it at 1e-6
    value_atol = 1e-6 if key.endswith("weight_u") else 0.0
    sum_atol = value_atol * values.size
    as_float64 = values.astype(np.float64)
    assert float(as_float64.sum()) == pytest.approx(check["sum"], abs=sum_atol, rel=0)
    assert float(np.abs(as_float64).sum()) == pytest.approx(check["abs_sum"], abs=sum_atol, rel=0)
    np.testing.assert_allclose(values.reshape(-1)[:4], check["first"], rtol=0, atol=value_atol)
