"""Object storage in a local directory: the embedded default and the laptop backend.

Errors name the object's key and the system's reason, never the server's paths: their
messages reach clients (503 bodies, job errors). The full error goes to the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from render_core.errors import ConfigurationError, NotFound, StorageUnavailable
from render_core.storage.base import ObjectInfo, validate_key


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
log = logging.getLogger(__name__)


def _unavailable(action: str, key: str, exc: OSError) -> StorageUnavailable:
    """The client-facing error: the key and the reason (``strerror``, which holds no path)."""
    log.warning("local storage: cannot %s %s: %s", action, key, exc)
    reason = exc.strerror or type(exc).__name__
    return StorageUnavailable(f"storage cannot {action} {key}: {reason}")


class LocalStore:
    """Objects are files under ``root``; writes go to a temporary file and are renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".check-"):
                pass
        except OSError as exc:
            raise ConfigurationError(
                f"storage directory {self.root} is not writable: {exc}"
            ) from exc

    def _write_atomically(self, key: str, write: object) -> None:
        target = self._path(key)
        try:
            fd, tmp_name = self._temporary_beside(target)
            # mkstemp makes 0600 files; objects are shared by the API and workers that may
            # run as other users, so give them the permissions a plain create would.
            os.fchmod(fd, 0o666 & ~_UMASK)
            try:
                with os.fdopen(fd, "wb") as handle:
                    if isinstance(write, bytes):
                        handle.write(write)
                    else:
                        with Path(str(write)).open("rb") as source:
                            shutil.copyfileobj(source, handle)
                os.replace(tmp_name, target)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise _unavailable("write", key, exc) from exc

    @staticmethod
    def _temporary_beside(target: Path) -> tuple[int, str]:
        """A new temporary file in ``target``'s folder, which is made first."""
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except FileNotFoundError:  # a prune of an emptied prefix took the folder meanwhile
            target.parent.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write_atomically(key, data)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self._write_atomically(key, path)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"object {key} not found") from exc
        except OSError as exc:
            raise _unavailable("read", key, exc) from exc

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise NotFound(f"object {key} not found") from exc
        except OSError as exc:
            raise _unavailable("read", key, exc) from exc
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"object {key} not found") from exc
        except OSError as exc:
            raise _unavailable("read", key, exc) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[ObjectInfo]:
        # A plain string prefix, as S3 has it: "renders/j1" also matches "renders/j10/...".
        scan_root = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not scan_root.is_dir():
            return []
        found = []
        for path in scan_root.rglob("*"):
            if not path.is_file() or path.name.startswith("."):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                found.append(ObjectInfo(key=key, size=path.stat().st_size))
        return sorted(found, key=lambda info: info.key)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _unavailable("delete", key, exc) from exc

    def delete_prefix(self, prefix: str) -> int:
        doomed = self.list(prefix)
        for info in doomed:
            self.delete(info.key)
        if prefix.endswith("/"):  # a folder's prefix: its emptied folders go too, as in S3
            self._prune(self._path(prefix.rstrip("/")))
        return len(doomed)

    @staticmethod
    def _prune(folder: Path) -> None:
        """Remove ``folder`` and the folders under it that are empty now; a folder written
        to meanwhile stays (a writer that loses its folder makes it again)."""
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()
        with contextlib.suppress(OSError):
            folder.rmdir()

    def presigned_url(self, key: str) -> str | None:
        return None
