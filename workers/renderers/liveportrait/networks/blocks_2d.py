"""2-D convolution blocks shared by the appearance extractor and the warping network.

Child names (``conv``, ``norm``) are those of the official checkpoints, so state-dict keys
line up without renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBatchNormAct2d(nn.Module):
    """3x3 convolution, BatchNorm and ReLU (or LeakyReLU 0.01) at constant resolution."""

    def __init__(self, in_channels: int, out_channels: int, *, leaky: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_channels)
        self.leaky = leaky

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        return F.leaky_relu(x) if self.leaky else F.relu(x)


class DownBlock2d(nn.Module):
    """Convolution, BatchNorm, ReLU, then 2x2 average pooling: halves H and W."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), kernel_size=2)
