"""The kit's rule weights as real checkpoint files, and recognising them once loaded.

Writing them in the official layout lets tests and GPU benchmarks go through the production
loader. Recognition compares each file's tensors with the manifest's ``rule_sha256`` (the
hash of the rule's exact float32 values): it holds for any file that carries those values,
however it was serialised, needs no marker file that could be lost or copied onto real
weights, and a real checkpoint cannot match by accident. Renders made with such weights say
``synthetic: true`` in their manifest.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from render_core.errors import WeightsError
from workers.renderers.liveportrait.checkpoint import (
    DDP_PREFIX,
    STITCHING_SUBDICTS,
    ManifestTensors,
    checkpoint_path,
)
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.manifest import STITCHING_FILE, FileSpec, file_specs
from workers.renderers.liveportrait.weight_rule import Array, rule_sha256, rule_tensors


def _checked_rule_tensors(spec: FileSpec) -> dict[str, Array]:
    tensors = rule_tensors(spec)
    digest = rule_sha256(tensors)
    if digest != spec.rule_sha256:
        raise WeightsError(
            f"weight rule broken for {spec.file}: sha256 {digest}, manifest says {spec.rule_sha256}"
        )
    return tensors


def _official_container(spec: FileSpec, tensors: Mapping[str, Array]) -> dict[str, object]:
    """A flat state dict, or for the stitching file three sub-dicts with DDP-style keys."""
    as_torch = {key: torch.from_numpy(value) for key, value in tensors.items()}
    if spec.file != STITCHING_FILE:
        return dict(as_torch)
    nested: dict[str, dict[str, torch.Tensor]] = {name: {} for name in STITCHING_SUBDICTS}
    for tensor in spec.tensors:
        if tensor.subdict is None or tensor.subnet_key is None:
            raise WeightsError(f"manifest entry {tensor.key} names no stitching sub-dict")
        nested[tensor.subdict][DDP_PREFIX + tensor.subnet_key] = as_torch[tensor.key]
    return dict(nested)


def write_synthetic_weights(weights_dir: Path, *, overwrite: bool = False) -> str:
    """Write all five files (about 520 MB) and return the directory's fingerprint.

    Refuses to replace existing files unless asked, so real weights are never overwritten
    by accident; each file appears atomically (written aside, then renamed).
    """
    targets = [(spec, checkpoint_path(weights_dir, spec)) for spec in file_specs()]
    existing = [str(path) for _, path in targets if path.exists()]
    if existing and not overwrite:
        raise WeightsError(f"refusing to overwrite existing checkpoint files: {existing}")
    for spec, path in targets:
        container = _official_container(spec, _checked_rule_tensors(spec))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        torch.save(container, partial)
        os.replace(partial, path)
    return weights_fingerprint(weights_dir)


def matches_rule(spec: FileSpec, tensors: Mapping[str, torch.Tensor]) -> bool:
    """Whether one loaded file holds exactly the rule's values (``weight_u`` aside)."""
    arrays = {key: np.asarray(value.detach().cpu()) for key, value in tensors.items()}
    return rule_sha256(arrays) == spec.rule_sha256


def are_synthetic(weights: Mapping[str, ManifestTensors]) -> bool:
    """True when every file of a loaded weights directory is the kit's rule weights."""
    return all(matches_rule(spec, weights[spec.file]) for spec in file_specs())


@contextmanager
def weights_or_synthetic(given: Path | None) -> Iterator[Path]:
    """``given``, or the rule weights written to a temporary directory for the block."""
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="lp-weights-") as tmp:
        write_synthetic_weights(Path(tmp))
        yield Path(tmp)
