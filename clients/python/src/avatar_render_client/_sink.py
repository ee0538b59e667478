"""Where a download goes: a ``.part`` file hashed as it is written, renamed once verified."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO


class Sink:
    """A download's destination: written to ``NAME.part`` and hashed as the bytes arrive,
    then renamed into place only once verified, so a bad file never sits under its name."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.part = dest.with_name(dest.name + ".part")
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        """Start (again, after a retry) from an empty file."""
        self.close()
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.part.open("wb")
        self.size, self._sha256 = 0, hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "Sink.open() first"
        self._file.write(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def commit(self) -> Path:
        self.close()
        os.replace(self.part, self.dest)
        return self.dest

    def discard(self) -> None:
        self.close()
        self.part.unlink(missing_ok=True)
