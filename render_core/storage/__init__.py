"""Object storage: the contract and its backends, chosen by ``RENDER_STORAGE_URL``."""

from __future__ import annotations

from render_core.settings import Settings
from render_core.storage.base import ObjectInfo, ObjectStore
from render_core.storage.local import LocalStore
from render_core.storage_url import LocalLocation

__all__ = ["LocalStore", "ObjectInfo", "ObjectStore", "open_store"]


def open_store(settings: Settings) -> ObjectStore:
    """The backend named by the settings; network clients are created on first use, in the
    process that uses them."""
    location = settings.storage_location
    if isinstance(location, LocalLocation):
        return LocalStore(location.root)
    # Imported here so that boto3 stays an optional dependency (extra ``s3``).
    from render_core.storage.s3 import S3Store

    return S3Store.from_settings(settings, location)
