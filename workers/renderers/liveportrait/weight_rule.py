"""Deterministic synthetic weights (the conformance kit's rule, version 1).

The real checkpoints cannot be downloaded on our machines, so tests and benchmarks
run on weights drawn by this rule from the manifest; the golden outputs were computed
with the same weights, which is what makes them comparable. numpy only: no torch here.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workers.renderers.liveportrait.manifest import FileSpec, TensorSpec, weight_rule

Array = NDArray[Any]


def _uniform_unit_variance(seed_text: str, shape: tuple[int, ...]) -> NDArray[np.float64]:
    rng = np.random.Generator(np.random.PCG64(zlib.crc32(seed_text.encode("utf-8"))))
    uniform: NDArray[np.float64] = rng.random(size=shape, dtype=np.float64)
    return (2.0 * uniform - 1.0) * float(np.sqrt(3.0))


def _draw(spec: FileSpec, tensor: TensorSpec, rule: Mapping[str, Any]) -> Array:
    z = _uniform_unit_variance(f"{spec.stem}:{tensor.key}", tensor.shape)
    role = tensor.role
    if role == "weight":
        is_head = tensor.key.startswith(tuple(rule["HEAD_KEYS"]))
        gain = rule["HEAD_GAIN"] if is_head else rule["W_GAIN"]
        value = z * gain / np.sqrt(float(np.prod(tensor.shape[1:])))
    elif role == "bias":
        offset = 1.0 if tensor.key == "detector.fc_scale.bias" else 0.0
        value = z * rule["BIAS_STD"] + offset
    elif role == "norm_weight":
        value = 1.0 + z * rule["NORM_W_STD"]
    elif role == "bn_mean":
        value = z * rule["RMEAN_STD"]
    elif role == "bn_var":
        value = 1.0 + np.abs(z) * rule["RVAR_STD"]
    elif role == "grn":
        value = z * rule["GRN_STD"]
    elif role == "sn_v":
        value = z / np.linalg.norm(z)
    else:
        raise ValueError(f"weight rule has no role {role!r} (tensor {tensor.key})")
    result: Array = value.astype(np.float32)
    return result


def rule_tensors(spec: FileSpec) -> dict[str, Array]:
    """Every tensor of one checkpoint file, keyed as the manifest writes it."""
    rule = weight_rule()
    out: dict[str, Array] = {}
    spectral_u: list[str] = []
    for tensor in spec.tensors:
        if tensor.role == "count":
            out[tensor.key] = np.zeros(tensor.shape, np.int64)
        elif tensor.role == "sn_u":
            spectral_u.append(tensor.key)
        else:
            out[tensor.key] = _draw(spec, tensor, rule)
    for key in spectral_u:
        base = key.removesuffix("weight_u")
        weight = out[base + "weight_orig"].astype(np.float64)
        direction = weight.reshape(weight.shape[0], -1) @ out[base + "weight_v"].astype(np.float64)
        out[key] = (direction / np.linalg.norm(direction)).astype(np.float32)
    return out


def rule_sha256(tensors: Mapping[str, Array]) -> str:
    """The kit's self-check hash; ``weight_u`` is left out (its last bit depends on the BLAS)."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        if not key.endswith("weight_u"):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(tensors[key]).tobytes())
    return digest.hexdigest()
