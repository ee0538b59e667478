"""Fetch the official LivePortrait checkpoints from the Hugging Face Hub into a weights directory.

Exactly the five files the checkpoint manifest names are fetched, all at one commit: the
revision asked for is resolved once, so a branch that moves mid-download cannot mix two
versions. Files land in the Hub cache first, where ``huggingface_hub`` keeps partial
downloads and resumes them, and are checked there: the bytes against the sha256 the Hub
names them by, then the strict loader. Only then is each copied into the weights
directory, written aside and renamed, so the directory never holds a half-written or
unverified file. A file that fails is deleted from the cache as well, so the next run
fetches it again instead of trusting it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
from huggingface_hub import errors as hub_errors

from render_core.errors import WeightsError
from workers.renderers.liveportrait.checkpoint import checkpoint_path
from workers.renderers.liveportrait.fingerprint import file_sha256, weights_fingerprint
from workers.renderers.liveportrait.manifest import FileSpec, file_specs
from workers.renderers.liveportrait.weights_verification import WeightsReport, verify_weights_dir

HUB_REPO = "KwaiVGI/LivePortrait"
SHA256_NAME = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DownloadedWeights:
    commit: str
    fingerprint: str
    synthetic: bool


@contextmanager
def _hub_errors(what: str) -> Iterator[None]:
    """The Hub's failures as one error type with a sentence an operator can act on."""
    try:
        yield
    except hub_errors.RevisionNotFoundError as error:
        raise WeightsError(
            f"{what}: the Hub has no such revision ({_first_line(error)})"
        ) from error
    except hub_errors.RemoteEntryNotFoundError as error:
        raise WeightsError(f"{what}: the Hub repository has no such file") from error
    except hub_errors.RepositoryNotFoundError as error:
        raise WeightsError(f"{what}: no Hub repository {HUB_REPO}") from error
    except Exception as error:  # HTTP status, no connection (the HTTP client's own types), disk
        raise WeightsError(f"{what}: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0]


def resolve_commit(revision: str) -> str:
    """The commit a branch, tag or commit id names now, from the Hub's answer for one file."""
    first = file_specs()[0].hub_path
    url = huggingface_hub.hf_hub_url(HUB_REPO, first, revision=revision)
    with _hub_errors(f"resolving revision {revision!r}"):
        metadata = huggingface_hub.get_hf_file_metadata(url)
    if metadata.commit_hash is None:
        raise WeightsError(f"the Hub named no commit for revision {revision!r}")
    return metadata.commit_hash


def _fetch(spec: FileSpec, commit: str) -> Path:
    with _hub_errors(f"{spec.hub_path} at {commit}"):
        return Path(huggingface_hub.hf_hub_download(HUB_REPO, spec.hub_path, revision=commit))


def _forget(cached: Path) -> None:
    """Delete a cached file (the snapshot link and the blob it points to)."""
    blob = cached.resolve()
    cached.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)


def _content_problem(cached: Path) -> str | None:
    """A mismatch between the bytes and the sha256 the Hub stores large files under."""
    expected = cached.resolve().name
    if not SHA256_NAME.fullmatch(expected):
        return None
    actual = file_sha256(cached)
    return None if actual == expected else f"sha256 {actual}, the Hub says {expected}"


def _checked_snapshot(commit: str) -> tuple[dict[str, Path], WeightsReport]:
    """Every manifest file fetched into the cache and verified, with the strict loader's report.

    Keyed by file name; the report's fingerprint is that of the cached snapshot.
    """
    specs = file_specs()
    cached = {spec.file: _fetch(spec, commit) for spec in specs}
    problems = {
        spec.hub_path: problem
        for spec in specs
        if (problem := _content_problem(cached[spec.file])) is not None
    }
    roots = {cached[spec.file].parents[len(Path(spec.relative_path).parts) - 1] for spec in specs}
    if len(roots) != 1:
        raise WeightsError(f"the files of commit {commit} did not land in one snapshot directory")
    report = verify_weights_dir(roots.pop())
    for spec, file in zip(specs, report.files, strict=True):
        if file.problems and spec.hub_path not in problems:
            problems[spec.hub_path] = "; ".join(file.problems)
    if problems:
        for spec in specs:
            if spec.hub_path in problems:
                _forget(cached[spec.file])
        lines = "\n".join(f"  {path}: {problem}" for path, problem in problems.items())
        raise WeightsError(
            f"{len(problems)} file(s) of {HUB_REPO}@{commit} failed verification and were "
            f"deleted; nothing was written to the weights directory:\n{lines}"
        )
    return cached, report


def _place(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` appears whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)


def download_weights(weights_dir: Path, revision: str) -> DownloadedWeights:
    """Fetch, verify and install the five checkpoints; the weights fingerprint they make."""
    commit = resolve_commit(revision)
    cached, report = _checked_snapshot(commit)
    for spec in file_specs():
        _place(cached[spec.file], checkpoint_path(weights_dir, spec))
    fingerprint = weights_fingerprint(weights_dir)
    if fingerprint != report.fingerprint:
        raise WeightsError(f"{weights_dir} does not hold the verified files after the copy")
    return DownloadedWeights(commit, fingerprint, report.synthetic)
