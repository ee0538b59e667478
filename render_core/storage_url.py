"""``RENDER_STORAGE_URL``, parsed once when the settings are read.

Every backend and command takes the parsed location from the settings, so a malformed
URL is refused in one place, with one error, before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class LocalLocation:
    """``file:///path``: a directory on this machine."""

    root: Path


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``: the prefix is empty or ends with ``/``."""

    bucket: str
    prefix: str


StorageLocation = LocalLocation | S3Location


def parse_storage_url(url: str) -> StorageLocation:
    """The location a storage URL names; ValueError saying the accepted forms otherwise."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = unquote(parsed.netloc + parsed.path)
        if path:
            return LocalLocation(Path(path))
    elif parsed.scheme == "s3" and parsed.netloc:
        prefix = parsed.path.strip("/")
        return S3Location(parsed.netloc, f"{prefix}/" if prefix else "")
    raise ValueError(f"RENDER_STORAGE_URL {url!r} must be file:///path or s3://bucket/prefix")
