"""Refuse to start a LivePortrait worker that cannot render, with a sentence, not a traceback.

Runs in the ``avatar-render worker`` parent before Celery forks its pool, so it must not
initialise CUDA: GPUs are counted with ``nvidia-smi`` and torch is asked only whether it
was built with CUDA. The pool child checks again, for real, when it loads the model.
"""

from __future__ import annotations

from pathlib import Path

import torch

from render_core.errors import ConfigurationError, WeightsError
from render_core.settings import Settings
from workers.gpu_fleet import count_gpus
from workers.renderers.liveportrait.checkpoint import missing_checkpoint_files

WEIGHTS_HINT = (
    "fetch them with `avatar-render weights download DIR` and point RENDER_WEIGHTS_DIR at DIR"
)


def check_weights_present(weights_dir: Path) -> None:
    if not weights_dir.is_dir():
        raise WeightsError(
            f"LivePortrait weights directory {weights_dir} does not exist: {WEIGHTS_HINT}"
        )
    missing = missing_checkpoint_files(weights_dir)
    if missing:
        raise WeightsError(f"LivePortrait weights in {weights_dir} lack {missing}: {WEIGHTS_HINT}")


def check_cuda_without_initialising(device: str) -> None:
    if not device.startswith("cuda"):
        return
    if torch.version.cuda is None:
        raise ConfigurationError(
            f"--device {device}: this torch ({torch.__version__}) was built without CUDA"
        )
    if count_gpus() == 0:
        raise ConfigurationError(f"--device {device}: nvidia-smi lists no GPU on this machine")


def check_worker_can_start(settings: Settings) -> None:
    check_weights_present(settings.weights_dir)
    check_cuda_without_initialising(settings.device)
