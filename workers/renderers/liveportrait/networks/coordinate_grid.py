"""Normalised (x, y, z) coordinate grids of a feature volume, built once per device.

Upstream builds these on the CPU and copies them to the GPU on every call, which both
costs a host-device transfer per frame and makes CUDA-graph capture fail. Here a grid is
built on the target device the first time a (shape, device, dtype) is seen and reused;
run one forward pass before capturing a graph so that the grids already exist.
"""

from __future__ import annotations

import torch

GridKey = tuple[int, int, int, torch.device, torch.dtype]


def _axis(size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Sample centres 0..size-1 mapped onto [-1, 1] (both ends included)."""
    index = torch.arange(size, device=device, dtype=dtype)
    return 2 * (index / (size - 1)) - 1


def coordinate_grid(
    depth: int, height: int, width: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """(depth, height, width, 3) grid; the last axis is (x, y, z) as grid_sample expects."""
    z = _axis(depth, device, dtype).view(depth, 1, 1).expand(depth, height, width)
    y = _axis(height, device, dtype).view(1, height, 1).expand(depth, height, width)
    x = _axis(width, device, dtype).view(1, 1, width).expand(depth, height, width)
    return torch.stack((x, y, z), dim=-1)


class CoordinateGridCache:
    """Grids keyed by (depth, height, width, device, dtype); a plain object, not module state."""

    def __init__(self) -> None:
        self._grids: dict[GridKey, torch.Tensor] = {}

    def get(
        self, depth: int, height: int, width: int, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        key = (depth, height, width, device, dtype)
        grid = self._grids.get(key)
        if grid is None:
            grid = coordinate_grid(depth, height, width, device, dtype)
            self._grids[key] = grid
        return grid
