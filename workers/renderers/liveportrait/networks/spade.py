"""SPADE: instance normalisation modulated by a spatial condition map (the warped feature).

The condition is given at the resolution of the activations it modulates; the generator
resizes it once per resolution instead of once per layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

HIDDEN_CHANNELS = 128
LEAKY_SLOPE = 0.2


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-sample, per-channel normalisation over H and W, without affine parameters.

    Written with ``var_mean`` rather than ``F.instance_norm`` because the latter copies a
    channels-last input to NCHW and back; this form keeps whatever layout it is given.
    """
    variance, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
    return (x - mean) / torch.sqrt(variance + eps)


class Spade(nn.Module):
    """``instance_norm(x) * (1 + gamma(c)) + beta(c)`` with gamma, beta convolved from c."""

    def __init__(self, channels: int, condition_channels: int) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(condition_channels, HIDDEN_CHANNELS, kernel_size=3, padding=1), nn.ReLU()
        )
        self.mlp_gamma = nn.Conv2d(HIDDEN_CHANNELS, channels, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(HIDDEN_CHANNELS, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        hidden = self.mlp_shared(condition)
        normalized = instance_norm(x)
        modulated: torch.Tensor = normalized * (1 + self.mlp_gamma(hidden)) + self.mlp_beta(hidden)
        return modulated


class SpadeResBlock(nn.Module):
    """Residual block of two SPADE-LeakyReLU-conv steps; a learned 1x1 shortcut if widths differ.

    The checkpoint stores these convolutions with spectral norm; the loader folds it, so
    here they are plain convolutions.
    """

    def __init__(self, in_channels: int, out_channels: int, condition_channels: int) -> None:
        super().__init__()
        middle = min(in_channels, out_channels)
        self.conv_0 = nn.Conv2d(in_channels, middle, kernel_size=3, padding=1)
        self.conv_1 = nn.Conv2d(middle, out_channels, kernel_size=3, padding=1)
        self.norm_0 = Spade(in_channels, condition_channels)
        self.norm_1 = Spade(middle, condition_channels)
        self.learned_shortcut = in_channels != out_channels
        if self.learned_shortcut:
            self.conv_s = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
            self.norm_s = Spade(in_channels, condition_channels)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, condition)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, condition), LEAKY_SLOPE))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, condition), LEAKY_SLOPE))
        out: torch.Tensor = shortcut + dx
        return out
