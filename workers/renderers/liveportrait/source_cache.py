"""Prepared sources kept per worker in device memory and per character in object storage.

Preparing a portrait (crop, appearance volume, motion) is the same work for every clip of
a character, so a worker keeps the most recent ones on its device (a bounded LRU) and
writes each to storage, where any worker finds it after a restart. Entries are keyed by
character, weights fingerprint and crop side; the crop's placement is stored with the
state and compared on read, so a character whose crop changed is prepared again. The LRU
and the storage objects are an ``NpzCache``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from numpy.typing import NDArray

from render_core import keys
from render_core.storage import ObjectStore
from workers.renderers.liveportrait.model import SourceState
from workers.renderers.liveportrait.motion_arrays import (
    Arrays,
    motion_from_arrays,
    motion_to_arrays,
    tensor_array,
)
from workers.renderers.liveportrait.npz_cache import NpzCache

RENDERER_NAME = "liveportrait"


@dataclass(frozen=True)
class SourceKey:
    character_id: str
    fingerprint: str
    side: int

    @property
    def storage_key(self) -> str:
        prefix = keys.character_cache_prefix(self.character_id, RENDERER_NAME)
        return f"{prefix}{self.fingerprint}/{self.side}.npz"


@dataclass(frozen=True)
class CachedSource:
    state: SourceState
    crop_to_original: NDArray[np.float64]


def _to_arrays(entry: CachedSource) -> Arrays:
    """Every tensor, in the dtype the model produced, and the crop it was prepared from."""
    state = entry.state
    arrays = motion_to_arrays(state.motion)
    arrays |= {"feature": tensor_array(state.feature), "x_s": tensor_array(state.x_s)}
    arrays["crop_to_original"] = entry.crop_to_original
    return arrays


def _from_arrays(arrays: np.lib.npyio.NpzFile, device: torch.device) -> CachedSource:
    state = SourceState(
        feature=torch.from_numpy(arrays["feature"]).to(device),
        motion=motion_from_arrays(arrays, device),
        x_s=torch.from_numpy(arrays["x_s"]).to(device),
    )
    return CachedSource(state, np.asarray(arrays["crop_to_original"], dtype=np.float64))


class SourceCache:
    """Device-memory LRU of at most ``capacity`` sources, in front of object storage."""

    def __init__(self, store: ObjectStore, capacity: int, device: torch.device) -> None:
        self._cache: NpzCache[SourceKey, CachedSource] = NpzCache(
            store,
            capacity,
            storage_key=lambda key: key.storage_key,
            to_arrays=_to_arrays,
            from_arrays=partial(_from_arrays, device=device),
            what="source cache",
        )

    def __len__(self) -> int:
        return len(self._cache)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is in device memory (storage is not asked)."""
        return key in self._cache

    def get(self, key: SourceKey, crop_to_original: NDArray[np.float64]) -> SourceState | None:
        """The state prepared from the same crop placement, else None (prepare again)."""
        entry = self._cache.get(key)
        if entry is None or not np.allclose(entry.crop_to_original, crop_to_original):
            return None
        return entry.state

    def put(
        self, key: SourceKey, state: SourceState, crop_to_original: NDArray[np.float64]
    ) -> None:
        self._cache.put(key, CachedSource(state, crop_to_original))
