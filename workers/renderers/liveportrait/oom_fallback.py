"""Render a batch of frames, halving it whenever the GPU runs out of memory.

A batch that fit yesterday may not fit today (a larger portrait, another process on the
card), so an out-of-memory error first splits the batch; only a single frame that does
not fit is a failure, and that one is transient (``GpuOutOfMemory``): another worker, or
this one later, may have the memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from render_core.errors import GpuOutOfMemory

log = logging.getLogger(__name__)


def render_halving_on_oom(
    render: Callable[[range], torch.Tensor], rows: range
) -> list[torch.Tensor]:
    """``render(rows)`` as one call if it fits, else in halves (recursively), in order."""
    try:
        return [render(rows)]
    except torch.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        if len(rows) <= 1:
            raise GpuOutOfMemory(f"CUDA out of memory rendering a single frame: {exc}") from exc
        middle = rows.start + len(rows) // 2
        log.warning("CUDA out of memory at batch %d; retrying in halves", len(rows))
    return render_halving_on_oom(render, range(rows.start, middle)) + render_halving_on_oom(
        render, range(middle, rows.stop)
    )
