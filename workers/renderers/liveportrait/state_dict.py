"""Turn checkpoint tensors (keyed as the manifest writes them) into module state dicts.

Two differences between the files and our modules are settled here, once, at load time:
the SPADE residual convolutions are stored with old-style spectral norm
(``weight_orig``, ``weight_u``, ``weight_v``) and our modules hold the folded kernel
``weight_orig / sigma``; and ``num_batches_tracked`` may be absent from a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from workers.renderers.liveportrait.manifest import FileSpec

SPECTRAL_SUFFIXES = ("weight_orig", "weight_u", "weight_v")


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.from_numpy(np.ascontiguousarray(value))


def fold_spectral_norm(weight_orig: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The eval-mode kernel of an old-style spectral-norm layer: no power iteration runs."""
    matrix = weight_orig.reshape(weight_orig.shape[0], -1)
    sigma = torch.dot(u, matrix @ v)
    return weight_orig / sigma


def module_state_dict(spec: FileSpec, tensors: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Manifest-keyed tensors of one file to the state dict of our module for that file.

    Keys of the stitching file stay ``<subdict>.<key>`` (for example
    ``retarget_eye.mlp.0.weight``); the caller has already removed ``module.``.
    """
    state: dict[str, torch.Tensor] = {}
    for tensor in spec.tensors:
        key = tensor.key
        if key.endswith(SPECTRAL_SUFFIXES):
            if key.endswith("weight_orig"):
                base = key.removesuffix("weight_orig")
                state[base + "weight"] = fold_spectral_norm(
                    _as_tensor(tensors[key]),
                    _as_tensor(tensors[base + "weight_u"]),
                    _as_tensor(tensors[base + "weight_v"]),
                )
            continue
        if key.endswith("num_batches_tracked") and key not in tensors:
            state[key] = torch.zeros((), dtype=torch.int64)
            continue
        state[key] = _as_tensor(tensors[key])
    return state
