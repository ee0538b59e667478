"""Check a render's objects against its manifest: present, the right size, the right sha256.

Storage can lose or change objects behind our back (a lifecycle rule, a manual delete, a
bad copy between buckets); this says which, so an operator can re-render or restore.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import ValidationError

from render_core.errors import Conflict, NotFound, OutputsExpired
from render_core.jobs import JobStore
from render_core.manifest import ObjectEntry, RenderManifest
from render_core.schema import JobStatus
from render_core.storage import ObjectStore


@dataclass(frozen=True)
class Problem:
    """One object that does not match the manifest."""

    key: str
    kind: str  # "missing", "size", "sha256", or "unreadable" (the manifest)
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}\t{self.key}" + (f"\t{self.detail}" if self.detail else "")


@dataclass(frozen=True)
class Verification:
    job_id: str
    checked: int  # objects the manifest lists, the manifest itself included
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(store: ObjectStore, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in store.iter_chunks(key):
        digest.update(chunk)
    return digest.hexdigest()


def _check_entry(store: ObjectStore, entry: ObjectEntry, sizes: dict[str, int]) -> Problem | None:
    """Size from the listing first (cheap); the hash only when the size is right."""
    if entry.key not in sizes:
        return Problem(entry.key, "missing")
    if sizes[entry.key] != entry.size:
        return Problem(entry.key, "size", f"{sizes[entry.key]} bytes, manifest says {entry.size}")
    try:
        actual = _sha256(store, entry.key)
    except NotFound:  # deleted between the listing and the read
        return Problem(entry.key, "missing")
    if actual != entry.sha256:
        return Problem(entry.key, "sha256", f"{actual}, manifest says {entry.sha256}")
    return None


def verify_render(jobs: JobStore, store: ObjectStore, job_id: str) -> Verification:
    """Every frame and the clip of a succeeded render, against the manifest it committed."""
    record = jobs.get(job_id)
    if record.outputs_expired:
        raise OutputsExpired(f"the outputs of render {job_id} were deleted by retention")
    if record.status != JobStatus.succeeded or record.manifest_key is None:
        raise Conflict(f"render {job_id} is {record.status.value}; it has no outputs to verify")
    assert record.output_prefix is not None  # set together with the manifest key
    try:
        manifest = RenderManifest.model_validate_json(store.get_bytes(record.manifest_key))
    except NotFound:
        return Verification(job_id, 1, [Problem(record.manifest_key, "missing")])
    except ValidationError as exc:
        detail = f"not a manifest: {exc.error_count()} errors"
        return Verification(job_id, 1, [Problem(record.manifest_key, "unreadable", detail)])
    entries: list[ObjectEntry] = [*manifest.frames, *([manifest.clip] if manifest.clip else [])]
    sizes = {info.key: info.size for info in store.list(record.output_prefix)}
    problems = [p for entry in entries if (p := _check_entry(store, entry, sizes)) is not None]
    return Verification(job_id, len(entries) + 1, problems)
