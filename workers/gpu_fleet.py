"""``avatar-render worker --all-gpus``: one worker process per GPU, each pinned to its card.

The parent only counts GPUs (``nvidia-smi -L``) and supervises; it never imports torch or
touches CUDA. Each child sees one card as ``cuda:0`` through ``CUDA_VISIBLE_DEVICES`` and
is named ``gpu{i}``. ``--gpus 0,2`` starts workers on those cards only. A worker's
``/metrics`` port is ``RENDER_WORKER_METRICS_PORT`` plus its index, so every card's
figures can be scraped.

A child that dies after it served a while (killed, a driver fault) is started again on
its card: its job is taken over by the reaper, as for any lost worker, and the card is
not left idle. One that dies sooner (it could not start: weights, CUDA) is not restarted,
since it would only fail again. A signal to the parent is passed on to every child, and
the parent exits with the worst status once every child has ended.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from render_core.errors import ConfigurationError

log = logging.getLogger(__name__)

# A child that ran this long before it died had started: it is restarted.
RESTART_AFTER_UPTIME_S = 30.0
POLL_S = 0.5


def parse_gpu_list(listing: str) -> int:
    """Lines of ``nvidia-smi -L`` that name a GPU (``GPU 0: NVIDIA H100 ... (UUID: ...)``)."""
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def count_gpus() -> int:
    """GPUs the driver lists; 0 where there is no NVIDIA driver."""
    try:
        listed = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return 0
    return parse_gpu_list(listed.stdout) if listed.returncode == 0 else 0


def fleet_devices(requested: str | None, listed: int) -> list[str]:
    """The cards to start a worker on: those ``requested`` names (indices or UUIDs, comma
    separated), else every card the driver lists; none where the driver lists none."""
    if listed == 0:
        return []
    if requested is not None and requested.strip():
        return [device.strip() for device in requested.split(",") if device.strip()]
    return [str(index) for index in range(listed)]


@dataclass
class FleetMember:
    """One card's worker: how to start it, and the process running now."""

    device: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        self.started_at = time.monotonic()


def _member_env(device: str, metrics_port: int) -> dict[str, str]:
    """The parent's environment, pinned to ``device``, with this worker's metrics port."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=device)
    if metrics_port:
        env["RENDER_WORKER_METRICS_PORT"] = str(metrics_port)
    return env


class GpuFleet:
    """The workers of one host's cards, and the parent's signals passed on to them."""

    def __init__(self, members: list[FleetMember], restart_after_uptime_s: float) -> None:
        self.members = members
        self.restart_after_uptime_s = restart_after_uptime_s
        self.stopping = False

    def forward(self, signum: int, _: FrameType | None = None) -> None:
        self.stopping = True
        for member in self.members:
            if member.process is not None and member.process.poll() is None:
                member.process.send_signal(signum)

    def run(self) -> int:
        """Start every member and wait for all, restarting the ones that die after
        serving a while; the worst exit status (a signal N counts as 128 + N)."""
        for member in self.members:
            member.start()
        worst = 0
        running = list(self.members)
        while running:
            time.sleep(POLL_S)
            for member in list(running):
                status = member.process.poll() if member.process is not None else 0
                if status is None:
                    continue
                uptime = time.monotonic() - member.started_at
                if not self.stopping and uptime >= self.restart_after_uptime_s:
                    member.restarts += 1
                    log.warning(
                        "worker on GPU %s exited with %s after %.0f s; restart %d",
                        member.device,
                        status,
                        uptime,
                        member.restarts,
                    )
                    member.start()
                    continue
                running.remove(member)
                worst = max(worst, status if status >= 0 else 128 - status)
                if not self.stopping:
                    log.error(
                        "worker on GPU %s exited with %s; not restarted", member.device, status
                    )
        return worst


def run_gpu_fleet(
    worker_command: Sequence[str],
    name_prefix: str = "gpu",
    gpus: str | None = None,
    metrics_port: int = 0,
    restart_after_uptime_s: float = RESTART_AFTER_UPTIME_S,
) -> int:
    """Run ``worker_command`` (the command line's own worker command, given by the caller)
    once per card (``gpus``, or every card); worker *i* serves ``/metrics`` on
    ``metrics_port`` + *i* (0: none). Returns the worst exit status once all have ended."""
    devices = fleet_devices(gpus, count_gpus())
    if not devices:
        raise ConfigurationError("--all-gpus: nvidia-smi lists no GPU on this machine")
    members = [
        FleetMember(
            device,
            [*worker_command, "--name", f"{name_prefix}{index}"],
            _member_env(device, metrics_port + index if metrics_port else 0),
        )
        for index, device in enumerate(devices)
    ]
    fleet = GpuFleet(members, restart_after_uptime_s)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, fleet.forward)
    return fleet.run()
