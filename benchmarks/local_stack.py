"""What the queue benchmarks share to start a stack on loopback: the command, the
environment, the sample portrait, the readiness probe and a percentile."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from render_cli.processes import answers_200

CLI = [sys.executable, "-m", "render_cli"]
SAMPLE = Path(__file__).resolve().parents[1] / "render_cli" / "assets" / "astronaut.png"
# Settings that take the tenant limits and admission out of the way: the benchmarks measure
# the queue's own capacity.
UNLIMITED = {
    "tenant_rate": "100000/s",
    "tenant_max_queued": "100000",
    "max_interactive_wait_s": "100000",
}


# A one-frame render that always renders ('cache': false): load on the queue, not on the
# render cache.
UNCACHED_JOB = {
    "emotion": "happy",
    "size": 256,
    "duration_ms": 200,
    "fps": 5,
    "outputs": ["frames"],
    "cache": False,
}


def stack_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its RENDER_ settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    env.update({f"RENDER_{k.upper()}": v for k, v in settings.items()})
    env["RENDER_LOG_JSON"] = "false"
    return env


def api_ready(url: str) -> bool:
    """The API answers ``/readyz`` with 200 (it sees a live worker)."""
    return answers_200(f"{url}/readyz")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
