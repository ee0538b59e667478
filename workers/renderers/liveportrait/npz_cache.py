"""A bounded LRU in device memory in front of one ``.npz`` object per key in storage.

Prepared portraits and driving-video motion are both costly to compute, small enough to
keep on the device, and worth sharing: storage lets any worker (or this one after a
restart) skip the work. Objects are plain arrays (no pickles). A cache that cannot be
read or written only costs time, so storage and decoding failures are logged and count
as a miss; they never fail a render.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from render_core.errors import NotFound, StorageUnavailable
from render_core.storage import ObjectStore

log = logging.getLogger(__name__)

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")

ToArrays = Callable[[ValueT], Mapping[str, NDArray[Any]]]
FromArrays = Callable[[np.lib.npyio.NpzFile], ValueT]


class NpzCache(Generic[KeyT, ValueT]):
    """At most ``capacity`` values in memory, every value written to ``storage_key(key)``.

    ``to_arrays`` and ``from_arrays`` convert a value to named arrays and back (the latter
    also places it on the device); ``what`` names the cache in log lines.
    """

    def __init__(
        self,
        store: ObjectStore,
        capacity: int,
        storage_key: Callable[[KeyT], str],
        to_arrays: ToArrays[ValueT],
        from_arrays: FromArrays[ValueT],
        what: str,
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.storage_key = storage_key
        self._to_arrays = to_arrays
        self._from_arrays = from_arrays
        self._what = what
        self._memory: OrderedDict[KeyT, ValueT] = OrderedDict()

    def __len__(self) -> int:
        return len(self._memory)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is in memory (storage is not asked)."""
        return key in self._memory

    def get(self, key: KeyT) -> ValueT | None:
        """From memory, else from storage (then kept in memory); None when neither has it."""
        value = self._memory.get(key)
        if value is None:
            value = self._read(key)
            if value is None:
                return None
        self._remember(key, value)
        return value

    def put(self, key: KeyT, value: ValueT) -> None:
        self._remember(key, value)
        where = self.storage_key(key)
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **self._to_arrays(value))
        try:
            self.store.put_bytes(where, buffer.getvalue(), "application/octet-stream")
        except StorageUnavailable as exc:
            log.warning("%s not written to %s: %s", self._what, where, exc.message)

    def _remember(self, key: KeyT, value: ValueT) -> None:
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)

    def _read(self, key: KeyT) -> ValueT | None:
        where = self.storage_key(key)
        try:
            data = self.store.get_bytes(where)
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                return self._from_arrays(arrays)
        except NotFound:
            return None
        except (StorageUnavailable, OSError, ValueError, KeyError) as exc:
            log.warning("%s at %s unreadable, computing again: %s", self._what, where, exc)
            return None
