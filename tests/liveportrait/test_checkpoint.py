"""The checkpoint loader, fingerprint, synthetic-weights recognition and the weights CLI.

The rule weights are written once per session through our writer (``synthetic_weights_dir``);
variants are directories of symlinks to those files with one file replaced, so no test
copies the 520 MB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from render_core.errors import WeightsError
from workers.renderers.liveportrait.checkpoint import (
    checkpoint_path,
    load_checkpoint_file,
    load_weights_dir,
)
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.manifest import STITCHING_FILE, FileSpec, file_spec, file_specs
from workers.renderers.liveportrait.state_dict import module_state_dict
from workers.renderers.liveportrait.synthetic_weights import (
    are_synthetic,
    matches_rule,
    write_synthetic_weights,
)
from workers.renderers.liveportrait.weights_cli import app
from workers.renderers.liveportrait.weights_verification import verify_weights_dir

APPEARANCE = "appearance_feature_extractor.pth"


def linked_copy(source_dir: Path, target_dir: Path) -> Path:
    for spec in file_specs():
        link = checkpoint_path(target_dir, spec)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(checkpoint_path(source_dir, spec))
    return target_dir


def replace_file(weights_dir: Path, spec: FileSpec, content: object) -> Path:
    path = checkpoint_path(weights_dir, spec)
    path.unlink()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    return path


def saved_container(weights_dir: Path, file: str) -> dict[str, object]:
    container: dict[str, object] = torch.load(
        checkpoint_path(weights_dir, file_spec(file)), weights_only=True
    )
    return container


def load_error(path: Path, file: str) -> str:
    with pytest.raises(WeightsError) as caught:
        load_checkpoint_file(path, file_spec(file))
    message = caught.value.message
    assert file in message and str(path) in message
    return message


@pytest.fixture(scope="module")
def fingerprint(synthetic_weights_dir: Path) -> str:
    return weights_fingerprint(synthetic_weights_dir)


@pytest.fixture(scope="module")
def loaded(synthetic_weights_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    return load_weights_dir(synthetic_weights_dir)


# loading what the writer wrote


def test_written_rule_weights_load_back_equal(loaded, rule_weights) -> None:
    assert set(loaded) == {spec.file for spec in file_specs()}
    for spec in file_specs():
        tensors = loaded[spec.file]
        assert set(tensors) == {tensor.key for tensor in spec.tensors}, spec.file
        for key, expected in rule_weights[spec.file].items():
            assert torch.equal(tensors[key], torch.from_numpy(expected)), key


def test_loaded_tensors_make_module_state_dicts(loaded) -> None:
    spec = file_spec("spade_generator.pth")
    state = module_state_dict(spec, loaded[spec.file])
    assert "G_middle_0.conv_0.weight" in state
    assert not any(key.endswith("weight_orig") for key in state)


def test_stitching_file_is_written_with_ddp_keys(synthetic_weights_dir: Path) -> None:
    container = saved_container(synthetic_weights_dir, STITCHING_FILE)
    assert set(container) == {"retarget_shoulder", "retarget_mouth", "retarget_eye"}
    eye = container["retarget_eye"]
    assert isinstance(eye, dict) and "module.mlp.0.weight" in eye


def test_module_prefix_is_removed_and_other_entries_ignored(synthetic_weights_dir, tmp_path):
    container = saved_container(synthetic_weights_dir, STITCHING_FILE)
    mouth = container["retarget_mouth"]
    assert isinstance(mouth, dict)
    container["retarget_mouth"] = {key.removeprefix("module."): v for key, v in mouth.items()}
    container["optimizer_state"] = {"lr": 0.1}
    path = tmp_path / STITCHING_FILE
    torch.save(container, path)
    tensors = load_checkpoint_file(path, file_spec(STITCHING_FILE))
    assert set(tensors) == {tensor.key for tensor in file_spec(STITCHING_FILE).tensors}
    assert torch.equal(tensors["retarget_mouth.mlp.0.weight"], mouth["module.mlp.0.weight"])


def test_file_without_num_batches_tracked_loads(synthetic_weights_dir, tmp_path) -> None:
    container = saved_container(synthetic_weights_dir, APPEARANCE)
    dropped = [key for key in container if key.endswith("num_batches_tracked")]
    assert dropped
    path = tmp_path / APPEARANCE
    torch.save({k: v for k, v in container.items() if k not in dropped}, path)
    tensors = load_checkpoint_file(path, file_spec(APPEARANCE))
    for key in dropped:
        assert tensors[key].dtype == torch.int64 and tensors[key].item() == 0
    assert matches_rule(file_spec(APPEARANCE), tensors)


# what a broken directory or file reports


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="directory not found") as caught:
        load_weights_dir(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in caught.value.message


def test_missing_file_is_named(synthetic_weights_dir, tmp_path) -> None:
    weights_dir = linked_copy(synthetic_weights_dir, tmp_path / "weights")
    checkpoint_path(weights_dir, file_spec("warping_module.pth")).unlink()
    with pytest.raises(WeightsError, match="base_models/warping_module.pth"):
        load_weights_dir(weights_dir)


def test_truncated_file(synthetic_weights_dir, tmp_path) -> None:
    whole = checkpoint_path(synthetic_weights_dir, file_spec(APPEARANCE)).read_bytes()
    path = tmp_path / APPEARANCE
    path.write_bytes(whole[: len(whole) // 2])
    assert "not a loadable PyTorch checkpoint" in load_error(path, APPEARANCE)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / APPEARANCE
    path.write_bytes(b"<html>404 Not Found</html>\n")
    assert "not a loadable PyTorch checkpoint" in load_error(path, APPEARANCE)


def test_file_that_is_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / APPEARANCE
    torch.save([torch.zeros(3)], path)
    assert "holds a list" in load_error(path, APPEARANCE)


def edited_appearance(weights_dir: Path, tmp_path: Path, edit: dict[str, object]) -> Path:
    container = saved_container(weights_dir, APPEARANCE)
    for key, value in edit.items():
        if value is None:
            del container[key]
        else:
            container[key] = value
    path = tmp_path / APPEARANCE
    torch.save(container, path)
    return path


def test_missing_key_is_named(synthetic_weights_dir, tmp_path) -> None:
    path = edited_appearance(synthetic_weights_dir, tmp_path, {"second.weight": None})
    assert "1 missing keys: second.weight" in load_error(path, APPEARANCE)


def test_unexpected_key_is_named(synthetic_weights_dir, tmp_path) -> None:
    path = edited_appearance(synthetic_weights_dir, tmp_path, {"third.weight": torch.zeros(2)})
    assert "1 unexpected keys: third.weight" in load_error(path, APPEARANCE)


def test_wrong_shape_is_named(synthetic_weights_dir, tmp_path) -> None:
    path = edited_appearance(synthetic_weights_dir, tmp_path, {"second.bias": torch.zeros(7)})
    message = load_error(path, APPEARANCE)
    assert "wrong shape: second.bias [7], expected [512]" in message


def test_wrong_dtype_is_named(synthetic_weights_dir, tmp_path) -> None:
    half = torch.zeros(512, dtype=torch.float16)
    path = edited_appearance(synthetic_weights_dir, tmp_path, {"second.bias": half})
    assert "wrong dtype: second.bias torch.float16, expected float32" in load_error(
        path, APPEARANCE
    )


def test_all_problems_of_a_file_in_one_error(synthetic_weights_dir, tmp_path) -> None:
    edits: dict[str, object] = {"second.weight": None, "extra": torch.zeros(1)}
    message = load_error(edited_appearance(synthetic_weights_dir, tmp_path, edits), APPEARANCE)
    assert "missing keys: second.weight" in message and "unexpected keys: extra" in message


def test_many_missing_keys_are_abbreviated(tmp_path: Path) -> None:
    path = tmp_path / APPEARANCE
    torch.save({}, path)
    message = load_error(path, APPEARANCE)
    required = [t.key for t in file_spec(APPEARANCE).tensors if not t.optional]
    assert f"{len(required)} missing keys: {required[0]}" in message
    assert f"(and {len(required) - 5} more)" in message


def test_stitching_file_without_a_sub_dict(synthetic_weights_dir, tmp_path) -> None:
    container = saved_container(synthetic_weights_dir, STITCHING_FILE)
    del container["retarget_eye"]
    path = tmp_path / STITCHING_FILE
    torch.save(container, path)
    assert "sub-dict 'retarget_eye' missing" in load_error(path, STITCHING_FILE)


def test_stitching_keys_colliding_after_prefix_removal(synthetic_weights_dir, tmp_path) -> None:
    container = saved_container(synthetic_weights_dir, STITCHING_FILE)
    eye = container["retarget_eye"]
    assert isinstance(eye, dict)
    eye["mlp.0.bias"] = eye["module.mlp.0.bias"]
    path = tmp_path / STITCHING_FILE
    torch.save(container, path)
    assert "duplicate key" in load_error(path, STITCHING_FILE)


def test_loading_a_directory_names_the_broken_file(synthetic_weights_dir, tmp_path) -> None:
    weights_dir = linked_copy(synthetic_weights_dir, tmp_path / "weights")
    spec = file_spec(STITCHING_FILE)
    container = saved_container(synthetic_weights_dir, STITCHING_FILE)
    container["retarget_shoulder"] = {}
    replace_file(weights_dir, spec, container)
    with pytest.raises(WeightsError, match=r"stitching_retargeting_module.pth .*missing keys"):
        load_weights_dir(weights_dir)


# fingerprint and synthetic recognition


def test_fingerprint_is_stable_and_follows_content(
    synthetic_weights_dir, fingerprint, tmp_path
) -> None:
    assert len(fingerprint) == 64
    weights_dir = linked_copy(synthetic_weights_dir, tmp_path / "weights")
    assert weights_fingerprint(weights_dir) == fingerprint
    container = saved_container(synthetic_weights_dir, STITCHING_FILE)
    eye = container["retarget_eye"]
    assert isinstance(eye, dict)
    eye["module.mlp.0.bias"] = eye["module.mlp.0.bias"] + 1e-3
    replace_file(weights_dir, file_spec(STITCHING_FILE), container)
    assert weights_fingerprint(weights_dir) != fingerprint


def test_fingerprint_needs_every_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="missing"):
        weights_fingerprint(tmp_path)


def test_rule_weights_are_recognised_as_synthetic(loaded) -> None:
    assert are_synthetic(loaded)


def test_one_changed_value_is_not_synthetic(loaded) -> None:
    spec = file_spec(STITCHING_FILE)
    tensors = dict(loaded[spec.file])
    changed = tensors["retarget_eye.mlp.0.bias"].clone()
    changed[0] += np.float32(1e-6)
    tensors["retarget_eye.mlp.0.bias"] = changed
    assert not matches_rule(spec, tensors)
    assert not are_synthetic({**loaded, spec.file: tensors})


def test_writer_refuses_to_overwrite(synthetic_weights_dir: Path) -> None:
    paths = [checkpoint_path(synthetic_weights_dir, spec) for spec in file_specs()]
    before = [path.stat().st_mtime_ns for path in paths]
    with pytest.raises(WeightsError, match="refusing to overwrite"):
        write_synthetic_weights(synthetic_weights_dir)
    assert [path.stat().st_mtime_ns for path in paths] == before


def test_verify_report_lists_every_broken_file(synthetic_weights_dir, tmp_path) -> None:
    weights_dir = linked_copy(synthetic_weights_dir, tmp_path / "weights")
    replace_file(weights_dir, file_spec(APPEARANCE), b"garbage")
    checkpoint_path(weights_dir, file_spec("motion_extractor.pth")).unlink()
    report = verify_weights_dir(weights_dir)
    problems = {file.relative_path: file.problems for file in report.files}
    assert not report.ok and not report.synthetic and report.fingerprint is None
    assert "not a loadable" in problems["base_models/appearance_feature_extractor.pth"][0]
    assert problems["base_models/motion_extractor.pth"] == ("file not found",)
    assert problems["base_models/spade_generator.pth"] == ()


# the CLI


def test_cli_verify_accepts_synthetic_weights(synthetic_weights_dir, fingerprint) -> None:
    result = CliRunner().invoke(app, ["verify", str(synthetic_weights_dir)])
    assert result.exit_code == 0, result.output
    assert f"fingerprint: {fingerprint}" in result.output
    assert "synthetic: yes" in result.output
    assert result.output.count(": ok") == len(file_specs())


def test_cli_verify_reports_problems(synthetic_weights_dir, tmp_path) -> None:
    weights_dir = linked_copy(synthetic_weights_dir, tmp_path / "weights")
    container = saved_container(synthetic_weights_dir, APPEARANCE)
    del container["second.weight"]
    replace_file(weights_dir, file_spec(APPEARANCE), container)
    result = CliRunner().invoke(app, ["verify", str(weights_dir)])
    assert result.exit_code == 1
    assert "base_models/appearance_feature_extractor.pth: 1 missing keys: second.weight" in (
        result.output
    )
    assert "synthetic: no" in result.output


def test_cli_verify_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "file not found" in result.output
    assert "fingerprint: unavailable" in result.output


def test_cli_synth_refuses_existing_files(synthetic_weights_dir: Path) -> None:
    result = CliRunner().invoke(app, ["synth", str(synthetic_weights_dir)])
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output


@pytest.mark.slow
def test_cli_synth_writes_verifiable_weights(synthetic_weights_dir, tmp_path) -> None:
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "weights")])
    assert result.exit_code == 0, result.output
    fingerprint = weights_fingerprint(tmp_path / "weights")
    assert f"fingerprint: {fingerprint}" in result.output
    assert verify_weights_dir(tmp_path / "weights").synthetic
