"""ConvNeXt-V2 backbone (the motion extractor's image encoder), pooled to one vector per image.

Blocks: 7x7 depthwise convolution, LayerNorm over channels, 4x inverted bottleneck with
exact GELU and Global Response Normalisation. Stochastic depth is an identity at
inference and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-6
GRN_EPS = 1e-6
TINY_DEPTHS = (3, 3, 9, 3)
TINY_DIMS = (96, 192, 384, 768)


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm of each pixel's channel vector in (B, C, H, W) maps (the stem and the
    downsampling layers): the maps are viewed channels last, where the channels are the
    trailing axis that ``F.layer_norm`` normalises, and viewed back."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_pixel = x.permute(0, 2, 3, 1)
        normalised = F.layer_norm(
            per_pixel, self.weight.shape, self.weight, self.bias, eps=LAYER_NORM_EPS
        )
        return normalised.permute(0, 3, 1, 2)


class GlobalResponseNorm(nn.Module):
    """Global response normalisation of (B, H, W, C) features.

    A channel's response is its L2 norm over the whole image, taken relative to the mean
    response of all channels; the layer is ``gamma * (x * relative) + beta + x``, computed
    here as one per-channel gain around 1: ``beta + x * (1 + gamma * relative)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, channels))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        response = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
        relative = response / (response.mean(dim=-1, keepdim=True) + GRN_EPS)
        return torch.addcmul(self.beta, x, 1.0 + self.gamma * relative)


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GlobalResponseNorm(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.grn(F.gelu(self.pwconv1(self.norm(y))))
        residual: torch.Tensor = x + self.pwconv2(y).permute(0, 3, 1, 2)
        return residual


class ConvNeXtV2(nn.Module):
    """(B, 3, H, W) -> (B, dims[-1]): stem, four stages, global average pool, LayerNorm."""

    def __init__(
        self, depths: Sequence[int] = TINY_DEPTHS, dims: Sequence[int] = TINY_DIMS
    ) -> None:
        super().__init__()
        stem = nn.Sequential(
            nn.Conv2d(3, dims[0], kernel_size=4, stride=4), ChannelsFirstLayerNorm(dims[0])
        )
        downsamples = [
            nn.Sequential(
                ChannelsFirstLayerNorm(dims[i]),
                nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2),
            )
            for i in range(len(dims) - 1)
        ]
        self.downsample_layers = nn.ModuleList([stem, *downsamples])
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtV2Block(dim) for _ in range(depth)))
            for depth, dim in zip(depths, dims, strict=True)
        )
        self.norm = nn.LayerNorm(dims[-1], eps=LAYER_NORM_EPS)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        x = image
        for downsample, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(downsample(x))
        pooled: torch.Tensor = self.norm(x.mean(dim=(-2, -1)))
        return pooled
