"""``avatar-render weights`` is mounted by the command line and works without a GPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import child_env


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "render_cli", *args],
        env=child_env(log_json="false"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_weights_verify_names_every_missing_file(tmp_path: Path) -> None:
    result = _cli("weights", "verify", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.count("file not found") == 5
    assert "base_models/spade_generator.pth: file not found" in result.stderr


def test_weights_commands_are_listed() -> None:
    result = _cli("weights", "--help")
    assert result.returncode == 0
    assert all(name in result.stdout for name in ("verify", "synth", "download"))
