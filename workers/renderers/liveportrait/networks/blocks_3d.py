"""3-D convolution blocks of the feature volume (appearance extractor, motion hourglass).

The volume is (batch, channels, depth, height, width); resampling blocks only change
height and width, never depth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PLANE_ONLY = (1, 2, 2)
"""Pooling and upsampling factors: depth stays, height and width change by 2."""


class ResBlock3d(nn.Module):
    """Pre-activation residual block (BatchNorm, ReLU, 3x3x3 convolution, twice)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv3d(channels, channels, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm3d(channels)
        self.norm2 = nn.BatchNorm3d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        residual: torch.Tensor = out + x
        return residual


class DownBlock3d(nn.Module):
    """Convolution, BatchNorm, ReLU, then average pooling of height and width by 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(F.relu(self.norm(self.conv(x))), kernel_size=PLANE_ONLY)


class UpBlock3d(nn.Module):
    """Nearest upsampling of height and width by 2, then convolution, BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=PLANE_ONLY, mode="nearest")
        return F.relu(self.norm(self.conv(x)))
