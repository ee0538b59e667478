"""Prepared sources kept per worker in device memory and per character in object storage.

Preparing a portrait (crop, appearance volume, motion) is the same work for every clip of
a character, so a worker keeps the most recent ones on its device (a bounded LRU) and
writes each to storage, where any worker finds it after a restart. Entries are keyed by
character, weights fingerprint and crop side; the crop's placement is stored with the
state and compared on read, so a character whose crop changed is prepared again.
A cache that cannot be read or written only costs time: failures are logged, not raised.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from render_core import keys
from render_core.errors import NotFound, StorageUnavailable
from render_core.storage import ObjectStore
from workers.renderers.liveportrait.model import SourceState
from workers.renderers.liveportrait.motion_arrays import (
    motion_from_arrays,
    motion_to_arrays,
    tensor_array,
)

log = logging.getLogger(__name__)

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


def serialise(entry: CachedSource) -> bytes:
    """An ``.npz`` (no pickles) of every tensor, in the dtype the model produced."""
    state = entry.state
    arrays = motion_to_arrays(state.motion)
    arrays |= {"feature": tensor_array(state.feature), "x_s": tensor_array(state.x_s)}
    arrays["crop_to_original"] = entry.crop_to_original
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def deserialise(data: bytes, device: torch.device) -> CachedSource:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        state = SourceState(
            feature=torch.from_numpy(arrays["feature"]).to(device),
            motion=motion_from_arrays(arrays, device),
            x_s=torch.from_numpy(arrays["x_s"]).to(device),
        )
        return CachedSource(state, np.asarray(arrays["crop_to_original"], dtype=np.float64))


class SourceCache:
    """Device-memory LRU of at most ``capacity`` sources, in front of object storage."""

    def __init__(self, store: ObjectStore, capacity: int, device: torch.device) -> None:
        self.store = store
        self.capacity = capacity
        self.device = device
        self._memory: OrderedDict[SourceKey, CachedSource] = OrderedDict()

    def __len__(self) -> int:
        return len(self._memory)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is in device memory (storage is not asked)."""
        return key in self._memory

    def get(self, key: SourceKey, crop_to_original: NDArray[np.float64]) -> SourceState | None:
        entry = self._memory.get(key)
        if entry is not None:
            self._memory.move_to_end(key)
        else:
            entry = self._read(key)
        if entry is None or not np.allclose(entry.crop_to_original, crop_to_original):
            return None
        self._remember(key, entry)
        return entry.state

    def put(
        self, key: SourceKey, state: SourceState, crop_to_original: NDArray[np.float64]
    ) -> None:
        entry = CachedSource(state, crop_to_original)
        self._remember(key, entry)
        try:
            self.store.put_bytes(key.storage_key, serialise(entry), "application/octet-stream")
        except StorageUnavailable as exc:
            log.warning("source cache not written to %s: %s", key.storage_key, exc.message)

    def _remember(self, key: SourceKey, entry: CachedSource) -> None:
        self._memory[key] = entry
        self._memory.move_to_end(key)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)

    def _read(self, key: SourceKey) -> CachedSource | None:
        try:
            return deserialise(self.store.get_bytes(key.storage_key), self.device)
        except NotFound:
            return None
        except (StorageUnavailable, OSError, ValueError, KeyError) as exc:
            log.warning("source cache at %s unreadable, preparing again: %s", key.storage_key, exc)
            return None
