"""``avatar-render worker --all-gpus``: one worker process per GPU, each pinned to its card.

The parent only counts GPUs (``nvidia-smi -L``) and supervises; it never imports torch or
touches CUDA. Each child sees one card as ``cuda:0`` through ``CUDA_VISIBLE_DEVICES`` and
is named ``gpu{i}``. A signal to the parent is passed on to every child.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from types import FrameType

from render_core.errors import ConfigurationError


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


def run_gpu_fleet(worker_command: Sequence[str], name_prefix: str = "gpu") -> int:
    """Run ``worker_command`` (the command line's own worker command, given by the caller)
    once per GPU and wait for all; the worst exit status wins."""
    gpus = count_gpus()
    if gpus == 0:
        raise ConfigurationError("--all-gpus: nvidia-smi lists no GPU on this machine")
    children = [
        subprocess.Popen(
            [*worker_command, "--name", f"{name_prefix}{index}"],
            # The environment passes through unchanged apart from the pinning.
            env=dict(os.environ, CUDA_VISIBLE_DEVICES=str(index)),
        )
        for index in range(gpus)
    ]

    def forward(signum: int, _: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    return max(child.wait() for child in children)
