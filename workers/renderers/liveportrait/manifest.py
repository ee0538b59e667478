"""The checkpoint manifest: every tensor of the five official files, shipped with the package.

The loader checks real checkpoints against it and the weight rule builds synthetic
weights from it, so both read one description of the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).with_name("checkpoint_manifest.json")
STITCHING_FILE = "stitching_retargeting_module.pth"


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as the manifest lists it."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    role: str
    optional: bool
    subdict: str | None
    subnet_key: str | None


@dataclass(frozen=True)
class FileSpec:
    """One checkpoint file: where it lives in the weights directory and what it holds."""

    file: str
    relative_path: str
    hub_path: str  # the file's path in the model's Hub repository
    module: str
    constructor: dict[str, Any]
    rule_sha256: str
    tensors: tuple[TensorSpec, ...]

    @property
    def stem(self) -> str:
        return self.file.removesuffix(".pth")


@cache
def raw_manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST_PATH.read_text())
    return data


def _relative_path(hf_path: str) -> str:
    """Path inside a weights directory laid out like upstream's ``liveportrait`` folder."""
    return hf_path.removeprefix("liveportrait/")


@cache
def file_specs() -> tuple[FileSpec, ...]:
    specs = []
    for entry in raw_manifest()["files"]:
        tensors = tuple(
            TensorSpec(
                key=t["key"],
                shape=tuple(t["shape"]),
                dtype=t["dtype"],
                role=t["role"],
                optional=bool(t.get("optional", False)),
                subdict=t.get("checkpoint_subdict"),
                subnet_key=t.get("subnet_key"),
            )
            for t in entry["tensors"]
        )
        specs.append(
            FileSpec(
                file=entry["file"],
                relative_path=_relative_path(entry["hf_path"]),
                hub_path=entry["hf_path"],
                module=entry["module"],
                constructor=entry.get("constructor") or {},
                rule_sha256=entry["rule_sha256"],
                tensors=tensors,
            )
        )
    return tuple(specs)


def file_spec(file: str) -> FileSpec:
    for spec in file_specs():
        if spec.file == file:
            return spec
    raise KeyError(file)


def weight_rule() -> dict[str, Any]:
    rule: dict[str, Any] = raw_manifest()["weight_rule"]
    return rule
