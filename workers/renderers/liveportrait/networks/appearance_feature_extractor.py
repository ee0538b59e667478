"""Appearance feature extractor F: a source image to the 3-D feature volume that W warps.

Runs once per source portrait; its output is the per-character state worth caching.
"""

from __future__ import annotations

import torch
from torch import nn

from workers.renderers.liveportrait.networks.blocks_2d import ConvBatchNormAct2d, DownBlock2d
from workers.renderers.liveportrait.networks.blocks_3d import ResBlock3d
from workers.renderers.liveportrait.networks.channel_widths import level_width


class AppearanceFeatureExtractor(nn.Module):
    """(B, 3, H, W) image in [0, 1] -> (B, reshape_channel, reshape_depth, H/4, W/4) volume."""

    def __init__(
        self,
        image_channel: int,
        block_expansion: int,
        num_down_blocks: int,
        max_features: int,
        reshape_channel: int,
        reshape_depth: int,
        num_resblocks: int,
    ) -> None:
        super().__init__()
        if reshape_channel * reshape_depth != max_features:
            raise ValueError("max_features must equal reshape_channel * reshape_depth")
        self.reshape_channel = reshape_channel
        self.reshape_depth = reshape_depth
        self.first = ConvBatchNormAct2d(image_channel, block_expansion)
        self.down_blocks = nn.ModuleList(
            DownBlock2d(
                level_width(block_expansion, level, max_features),
                level_width(block_expansion, level + 1, max_features),
            )
            for level in range(num_down_blocks)
        )
        planar_channels = level_width(block_expansion, num_down_blocks, max_features)
        self.second = nn.Conv2d(planar_channels, max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for index in range(num_resblocks):
            self.resblocks_3d.add_module(f"3dr{index}", ResBlock3d(reshape_channel))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.first(image)
        for block in self.down_blocks:
            x = block(x)
        x = self.second(x)
        batch, _, height, width = x.shape
        volume = x.reshape(batch, self.reshape_channel, self.reshape_depth, height, width)
        result: torch.Tensor = self.resblocks_3d(volume)
        return result
