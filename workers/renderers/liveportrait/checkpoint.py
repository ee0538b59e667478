"""Read the official LivePortrait checkpoint files and hold them strictly to the manifest.

A weights directory is laid out like upstream's ``pretrained_weights/liveportrait``. Every
file is opened with ``weights_only=True`` (no arbitrary pickles from a downloaded file) and
checked key by key, shape by shape and dtype by dtype, because a silently mis-loaded network
renders plausible-looking garbage instead of failing. Loaded tensors are keyed as the
manifest writes them; ``state_dict.module_state_dict`` turns them into module state dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from render_core.errors import WeightsError
from workers.renderers.liveportrait.manifest import STITCHING_FILE, FileSpec, file_specs

ManifestTensors = dict[str, torch.Tensor]
STITCHING_SUBDICTS = ("retarget_shoulder", "retarget_mouth", "retarget_eye")
DDP_PREFIX = "module."
LISTED_KEYS = 5


@dataclass(frozen=True)
class CheckedCheckpoint:
    """One file's tensors under manifest keys, and everything wrong with it (empty when fine)."""

    tensors: ManifestTensors
    problems: tuple[str, ...]


def checkpoint_path(weights_dir: Path, spec: FileSpec) -> Path:
    return weights_dir / spec.relative_path


def _first_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:LISTED_KEYS])
    more = len(keys) - LISTED_KEYS
    return f"{shown} (and {more} more)" if more > 0 else shown


def _read_container(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated or foreign files
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        raise WeightsError(f"not a loadable PyTorch checkpoint ({reason})") from error


def _stitching_entries(container: Mapping[object, object]) -> tuple[dict[str, object], list[str]]:
    """The three MLP sub-dicts under ``<subdict>.<key>``, with every ``module.`` removed."""
    entries: dict[str, object] = {}
    problems: list[str] = []
    for subdict in STITCHING_SUBDICTS:
        part = container.get(subdict)
        if not isinstance(part, Mapping):
            found = "absent" if part is None else type(part).__name__
            problems.append(f"sub-dict {subdict!r} missing or not a dict ({found})")
            continue
        for key, value in part.items():
            manifest_key = f"{subdict}.{str(key).replace(DDP_PREFIX, '')}"
            if manifest_key in entries:
                problems.append(f"duplicate key after removing {DDP_PREFIX!r}: {manifest_key}")
            entries[manifest_key] = value
    return entries, problems


def _manifest_entries(spec: FileSpec, container: object) -> tuple[dict[str, object], list[str]]:
    if not isinstance(container, Mapping):
        return {}, [f"holds a {type(container).__name__}, not a dict of tensors"]
    if spec.file == STITCHING_FILE:
        return _stitching_entries(container)
    return {str(key): value for key, value in container.items()}, []


def _content_problems(spec: FileSpec, entries: Mapping[str, object]) -> list[str]:
    expected = {tensor.key: tensor for tensor in spec.tensors}
    missing = [t.key for t in spec.tensors if t.key not in entries and not t.optional]
    unexpected = [key for key in entries if key not in expected]
    not_tensors: list[str] = []
    wrong_shape: list[str] = []
    wrong_dtype: list[str] = []
    for key, value in entries.items():
        tensor_spec = expected.get(key)
        if tensor_spec is None:
            continue
        if not isinstance(value, torch.Tensor):
            not_tensors.append(f"{key} ({type(value).__name__})")
        elif tuple(value.shape) != tensor_spec.shape:
            wrong_shape.append(f"{key} {list(value.shape)}, expected {list(tensor_spec.shape)}")
        elif str(value.dtype).removeprefix("torch.") != tensor_spec.dtype:
            wrong_dtype.append(f"{key} {value.dtype}, expected {tensor_spec.dtype}")
    labelled = (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("not tensors", not_tensors),
        ("wrong shape", wrong_shape),
        ("wrong dtype", wrong_dtype),
    )
    return [f"{len(items)} {label}: {_first_keys(items)}" for label, items in labelled if items]


def _with_counts(spec: FileSpec, entries: Mapping[str, object]) -> ManifestTensors:
    """Every manifest key present: absent ``num_batches_tracked`` buffers become zero."""
    tensors: ManifestTensors = {}
    for tensor_spec in spec.tensors:
        value = entries.get(tensor_spec.key)
        if isinstance(value, torch.Tensor):
            tensors[tensor_spec.key] = value
        else:
            tensors[tensor_spec.key] = torch.zeros(tensor_spec.shape, dtype=torch.int64)
    return tensors


def check_checkpoint_file(path: Path, spec: FileSpec) -> CheckedCheckpoint:
    """Read one file and list its problems instead of raising, for reports."""
    if not path.is_file():
        return CheckedCheckpoint({}, ("file not found",))
    try:
        container = _read_container(path)
    except WeightsError as error:
        return CheckedCheckpoint({}, (error.message,))
    entries, problems = _manifest_entries(spec, container)
    problems += _content_problems(spec, entries)
    if problems:
        return CheckedCheckpoint({}, tuple(problems))
    return CheckedCheckpoint(_with_counts(spec, entries), ())


def load_checkpoint_file(path: Path, spec: FileSpec) -> ManifestTensors:
    """One file's tensors under manifest keys; any problem is one ``WeightsError`` naming it."""
    checked = check_checkpoint_file(path, spec)
    if checked.problems:
        raise WeightsError(f"{spec.file} ({path}): " + "; ".join(checked.problems))
    return checked.tensors


def missing_checkpoint_files(weights_dir: Path) -> list[str]:
    return [
        spec.relative_path
        for spec in file_specs()
        if not checkpoint_path(weights_dir, spec).is_file()
    ]


def load_weights_dir(weights_dir: Path) -> dict[str, ManifestTensors]:
    """All five files, keyed by file name; fails before reading anything if a file is absent."""
    if not weights_dir.is_dir():
        raise WeightsError(f"LivePortrait weights directory not found: {weights_dir}")
    missing = missing_checkpoint_files(weights_dir)
    if missing:
        raise WeightsError(f"LivePortrait weights incomplete in {weights_dir}: missing {missing}")
    return {
        spec.file: load_checkpoint_file(checkpoint_path(weights_dir, spec), spec)
        for spec in file_specs()
    }
