"""The one cache both LivePortrait caches are built on: a bounded LRU over ``.npz`` objects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from render_core.errors import StorageUnavailable
from render_core.storage import LocalStore
from workers.renderers.liveportrait.npz_cache import NpzCache


class DownForWrites(LocalStore):
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        raise StorageUnavailable("storage is down")


def to_arrays(value: float) -> Mapping[str, NDArray[Any]]:
    return {"value": np.array(value)}


def from_arrays(arrays: np.lib.npyio.NpzFile) -> float:
    return float(arrays["value"])


def cache_in(store: LocalStore, capacity: int = 2) -> NpzCache[str, float]:
    return NpzCache(store, capacity, lambda key: f"cache/{key}.npz", to_arrays, from_arrays, "t")


def test_memory_is_bounded_and_storage_keeps_everything(tmp_path: Path) -> None:
    cache = cache_in(LocalStore(tmp_path))
    for index, key in enumerate("abc"):
        cache.put(key, float(index))
    assert len(cache) == 2 and "a" not in cache and "c" in cache
    assert cache.get("a") == 0.0 and "a" in cache  # back from storage, kept again
    assert "b" not in cache  # the least recently used one made room
    fresh = cache_in(LocalStore(tmp_path))
    assert [fresh.get(key) for key in "abc"] == [0.0, 1.0, 2.0]
    assert fresh.get("missing") is None


def test_an_unreadable_object_is_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("cache/a.npz", b"not an npz", "application/octet-stream")
    assert cache_in(store).get("a") is None
    assert "t at cache/a.npz unreadable" in caplog.text


def test_a_failed_write_keeps_the_value_in_memory(tmp_path: Path) -> None:
    cache = cache_in(DownForWrites(tmp_path))
    cache.put("a", 1.5)
    assert cache.get("a") == 1.5
    assert not LocalStore(tmp_path).exists("cache/a.npz")
