"""SPADE generator G: the warped 256-channel feature map to the output image.

Six residual blocks at the feature resolution, then two 2x nearest upsamplings with
narrowing blocks, a 3x3 convolution to 12 channels and a pixel shuffle: the image is
8x the feature map's height and width (512x512 from 64x64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workers.renderers.liveportrait.networks.channel_widths import level_width
from workers.renderers.liveportrait.networks.spade import LEAKY_SLOPE, SpadeResBlock

MIDDLE_BLOCKS = 6
OUTPUT_CHANNELS = 64
IMAGE_CHANNELS = 3


class SpadeGenerator(nn.Module):
    """(B, 256, h, w) warped feature -> (B, 3, 8h, 8w) image in [0, 1] (after a sigmoid)."""

    def __init__(
        self, upscale: int, block_expansion: int, max_features: int, num_down_blocks: int
    ) -> None:
        super().__init__()
        if upscale != 2:
            raise ValueError(f"only upscale 2 (a pixel shuffle) is supported, got {upscale}")
        feature_channels = level_width(block_expansion, num_down_blocks, max_features)
        wide = 2 * feature_channels
        self.fc = nn.Conv2d(feature_channels, wide, kernel_size=3, padding=1)
        for index in range(MIDDLE_BLOCKS):
            self.add_module(f"G_middle_{index}", SpadeResBlock(wide, wide, feature_channels))
        self.up_0 = SpadeResBlock(wide, feature_channels, feature_channels)
        self.up_1 = SpadeResBlock(feature_channels, OUTPUT_CHANNELS, feature_channels)
        self.conv_img = nn.Sequential(
            nn.Conv2d(OUTPUT_CHANNELS, IMAGE_CHANNELS * upscale**2, kernel_size=3, padding=1),
            nn.PixelShuffle(upscale),
        )

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = self.fc(feature)
        for index in range(MIDDLE_BLOCKS):
            x = getattr(self, f"G_middle_{index}")(x, feature)
        condition_2x = F.interpolate(feature, scale_factor=2, mode="nearest")
        x = self.up_0(F.interpolate(x, scale_factor=2, mode="nearest"), condition_2x)
        condition_4x = F.interpolate(feature, scale_factor=4, mode="nearest")
        x = self.up_1(F.interpolate(x, scale_factor=2, mode="nearest"), condition_4x)
        x = self.conv_img(F.leaky_relu(x, LEAKY_SLOPE))
        return torch.sigmoid(x)
