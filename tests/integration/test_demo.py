"""`avatar-render demo`, the main job on embedded defaults, run as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from render_cli.contact_sheet import THUMB
from tests.conftest import child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMO = [sys.executable, "-m", "render_cli", "demo"]


def test_demo_renders_seven_emotions_and_a_contact_sheet(tmp_path: Path) -> None:
    result = subprocess.run(
        [*DEMO, "--out", str(tmp_path)],
        env=child_env(log_json="false"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done in" in result.stdout and ", 0 failed" in result.stdout
    assert "webhooks      7 of 7 renders' endings delivered" in result.stdout
    manifests = sorted((tmp_path / "storage" / "renders").glob("*/1/manifest.json"))
    emotions = {json.loads(m.read_text())["request"]["emotion"] for m in manifests}
    assert emotions == {"neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted"}
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.height == 7 * THUMB
    assert str(tmp_path / "contact_sheet.png") in result.stdout


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _ctrl_c_as_in_a_terminal() -> None:
    """A test run started in the background by a script ignores SIGINT, and children
    inherit that: the demo must see Ctrl-C as it would in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_everything_the_demo_started(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [*DEMO, "--out", str(tmp_path)],
        env=child_env(log_json="false"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    assert demo.stdout is not None
    deadline = time.monotonic() + 120
    started: list[int] = []
    for line in demo.stdout:
        if line.startswith("submitted"):
            started = _children_of(demo.pid)
            break
        assert time.monotonic() < deadline, "the demo never submitted"
    assert len(started) >= 4  # redis-server, the worker, the API and the dispatcher
    os.kill(demo.pid, signal.SIGINT)
    rest = demo.communicate(timeout=60)[0]
    assert demo.returncode == 130, rest
    assert "interrupted: shutting down" in rest
    time.sleep(1)
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert alive == []
