"""A short identity for a weights directory, recorded in every render manifest.

It hashes the bytes of the five checkpoint files (in manifest order, each under its path
inside the directory), so it names exactly the files a worker loaded and anyone can
recompute it with ``sha256sum``-level tools, without torch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from render_core.errors import WeightsError
from workers.renderers.liveportrait.checkpoint import checkpoint_path, missing_checkpoint_files
from workers.renderers.liveportrait.manifest import file_specs

CHUNK_BYTES = 1 << 22


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def weights_fingerprint(weights_dir: Path) -> str:
    """sha256 over ``<relative path> <sha256 of its bytes>`` lines for the five files."""
    missing = missing_checkpoint_files(weights_dir)
    if missing:
        raise WeightsError(f"cannot fingerprint {weights_dir}: missing {missing}")
    lines = "".join(
        f"{spec.relative_path} {file_sha256(checkpoint_path(weights_dir, spec))}\n"
        for spec in file_specs()
    )
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
