"""What is wrong with a weights directory, file by file, for operators and the CLI.

Unlike the loader, which stops at the first broken file, this reads every file and keeps
going, so one run lists everything that needs fixing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workers.renderers.liveportrait.checkpoint import (
    check_checkpoint_file,
    checkpoint_path,
    missing_checkpoint_files,
)
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.manifest import file_specs
from workers.renderers.liveportrait.synthetic_weights import matches_rule


@dataclass(frozen=True)
class FileReport:
    relative_path: str
    problems: tuple[str, ...]
    matches_rule: bool


@dataclass(frozen=True)
class WeightsReport:
    """Per-file findings; ``fingerprint`` is None when a file is absent."""

    weights_dir: Path
    files: tuple[FileReport, ...]
    fingerprint: str | None

    @property
    def ok(self) -> bool:
        return not any(report.problems for report in self.files)

    @property
    def synthetic(self) -> bool:
        return self.ok and all(report.matches_rule for report in self.files)


def verify_weights_dir(weights_dir: Path) -> WeightsReport:
    reports = []
    for spec in file_specs():
        checked = check_checkpoint_file(checkpoint_path(weights_dir, spec), spec)
        rule_match = not checked.problems and matches_rule(spec, checked.tensors)
        reports.append(FileReport(spec.relative_path, checked.problems, rule_match))
    all_present = not missing_checkpoint_files(weights_dir)
    fingerprint = weights_fingerprint(weights_dir) if all_present else None
    return WeightsReport(weights_dir, tuple(reports), fingerprint)
