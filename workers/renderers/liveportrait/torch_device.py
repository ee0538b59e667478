"""The device a LivePortrait worker renders on, refused early with a sentence if unusable."""

from __future__ import annotations

import torch

from render_core.errors import ConfigurationError


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` as a checked ``torch.device`` (``cuda`` means ``cuda:0``)."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigurationError(
            f"RENDER_DEVICE={name!r} is not a device (cpu, cuda, cuda:N)"
        ) from exc
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ConfigurationError(f"RENDER_DEVICE={name!r}: only cpu and cuda devices are supported")
    if not torch.cuda.is_available():
        raise ConfigurationError(
            f"RENDER_DEVICE={name!r} but CUDA is not available here (torch {torch.__version__}, "
            f"built for CUDA {torch.version.cuda or 'none'}); use --device cpu or a GPU machine"
        )
    index = device.index or 0
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigurationError(
            f"RENDER_DEVICE={name!r} but only {count} CUDA device(s) are visible"
        )
    return torch.device("cuda", index)


def describe_device(device: torch.device, precision: str) -> str:
    """For manifests: ``cuda:0 NVIDIA H100 80GB HBM3 fp16`` or ``cpu fp32``."""
    if device.type != "cuda":
        return "cpu fp32"
    return f"{device} {torch.cuda.get_device_name(device)} {precision}"
