"""``avatar-render worker --all-gpus``: one worker per GPU that nvidia-smi lists."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from render_core.errors import ConfigurationError
from tests.conftest import child_env
from workers.gpu_fleet import fleet_devices, parse_gpu_list, run_gpu_fleet

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


def test_the_cards_are_the_requested_ones_or_every_listed_one() -> None:
    assert fleet_devices(None, 2) == ["0", "1"]
    assert fleet_devices("", 2) == ["0", "1"]
    assert fleet_devices("1, GPU-3d4e", 2) == ["1", "GPU-3d4e"]
    assert fleet_devices("0", 0) == []  # no driver: no card, whatever was asked


# A stand-in worker: notes its card, metrics port and pid, then serves until told to stop
# (SIGTERM ends it cleanly, as Celery's warm shutdown does); "fail" exits at once.
FAKE_WORKER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(sys.argv[1], "a") as notes:
    card = os.environ["CUDA_VISIBLE_DEVICES"]
    port = os.environ.get("RENDER_WORKER_METRICS_PORT", "")
    notes.write(f"{card} {port} {os.getpid()} {sys.argv[-1]}\\n")
if sys.argv[2] == "fail":
    sys.exit(3)
while True:
    time.sleep(0.1)
"""

FLEET = (
    "import sys; from workers.gpu_fleet import run_gpu_fleet; "
    "sys.exit(run_gpu_fleet({!r}, gpus={!r}, metrics_port=9300, restart_after_uptime_s=1.0))"
)


def start_fleet(
    tmp_path: Path, mode: str, gpus: str | None = None
) -> tuple[subprocess.Popen[str], Path]:
    notes = tmp_path / "starts.txt"
    worker = tmp_path / "worker.py"
    worker.write_text(FAKE_WORKER)
    env = child_env()
    env["PATH"] = f"{fake_nvidia_smi(tmp_path, LISTING)}{os.pathsep}{env['PATH']}"
    command = [sys.executable, str(worker), str(notes), mode]
    code = FLEET.format(command, gpus)
    fleet = subprocess.Popen([sys.executable, "-c", code], env=env, text=True)
    return fleet, notes


def read_starts(notes: Path) -> list[list[str]]:
    return [line.split() for line in notes.read_text().splitlines()] if notes.exists() else []


def wait_for_starts(notes: Path, count: int, timeout_s: float = 30.0) -> list[list[str]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        starts = read_starts(notes)
        if len(starts) >= count:
            return starts
        time.sleep(0.05)
    raise AssertionError(f"{count} starts expected, saw {read_starts(notes)}")


def test_each_card_gets_one_pinned_worker_and_a_killed_one_is_restarted(tmp_path: Path) -> None:
    fleet, notes = start_fleet(tmp_path, "serve")
    try:
        starts = wait_for_starts(notes, 2)
        by_card = {card: (port, int(pid), name) for card, port, pid, name in starts}
        assert by_card.keys() == {"0", "1"}
        assert {by_card["0"][0], by_card["1"][0]} == {"9300", "9301"}  # a port per card
        assert {by_card["0"][2], by_card["1"][2]} == {"gpu0", "gpu1"}
        time.sleep(1.2)  # it has served past the restart threshold
        os.kill(by_card["1"][1], signal.SIGKILL)
        restarted = wait_for_starts(notes, 3)[2]
        assert restarted[0] == "1" and restarted[1] == by_card["1"][0]
        assert int(restarted[2]) != by_card["1"][1]
        assert len(read_starts(notes)) == 3  # the other card's worker went on untouched
    finally:
        fleet.send_signal(signal.SIGTERM)
        assert fleet.wait(timeout=30) == 0  # a stop ends every worker, none restarted
    assert len(read_starts(notes)) == 3


def test_a_worker_that_cannot_start_is_not_restarted(tmp_path: Path) -> None:
    fleet, notes = start_fleet(tmp_path, "fail", gpus="1")
    assert fleet.wait(timeout=30) == 3
    assert [start[0] for start in read_starts(notes)] == ["1"]  # only the visible card, once
