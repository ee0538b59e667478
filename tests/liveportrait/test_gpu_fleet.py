"""``avatar-render worker --all-gpus``: one worker per GPU that nvidia-smi lists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from render_core.errors import ConfigurationError
from tests.conftest import child_env
from workers.gpu_fleet import parse_gpu_list, run_gpu_fleet

LISTING = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1b2c)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-3d4e)
  MIG 1g.10gb     Device  0: (UUID: MIG-5f6a)
"""


def fake_nvidia_smi(directory: Path, listing: str) -> Path:
    script = directory / "nvidia-smi"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{listing}EOF\n")
    script.chmod(0o755)
    return directory


def test_only_gpu_lines_count() -> None:
    assert parse_gpu_list(LISTING) == 2
    assert parse_gpu_list("") == 0


def test_no_gpu_is_a_clear_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path, "")))
    with pytest.raises(ConfigurationError, match="no GPU"):
        run_gpu_fleet(["--renderer", "liveportrait"])


def test_every_gpu_gets_a_worker(tmp_path: Path) -> None:
    """Two listed GPUs start two children; on this CPU machine each refuses CUDA, with a
    sentence, and the parent exits with their status."""
    env = child_env(weights_dir=str(tmp_path), log_json="false")
    env["PATH"] = f"{fake_nvidia_smi(tmp_path, LISTING)}{os.pathsep}{env['PATH']}"
    finished = subprocess.run(
        [sys.executable, "-m", "render_cli", "worker", "--all-gpus"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 1
    assert finished.stderr.count("error [weights_invalid]") == 2, finished.stderr
