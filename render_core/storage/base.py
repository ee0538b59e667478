"""The object-storage contract that every backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def validate_key(key: str) -> str:
    """Keys are relative ``/``-separated paths with no empty, ``.`` or ``..`` parts."""
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")):
        raise ValueError(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing says of one object."""

    key: str
    size: int


class ObjectStore(Protocol):
    """Keys are ``/``-separated relative paths (``renders/{job}/{attempt}/clip.mp4``).

    Writes are atomic: a reader sees the whole object or none. Every method raises
    ``StorageUnavailable`` when the backend cannot be reached, and reads raise
    ``NotFound`` for a missing key.
    """

    def check(self) -> None:
        """Raise ``ConfigurationError`` unless the store is reachable and writable."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def put_file(self, key: str, path: Path, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]: ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix), sorted."""
        ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; return how many went."""
        ...

    def presigned_url(self, key: str) -> str | None:
        """A URL a client can GET directly, or None when the API must stream the bytes."""
        ...
