"""The 3-D hourglass (U-Net) at the heart of the dense motion network.

The encoder pools height and width by 2 per level (depth stays); the decoder upsamples
back and concatenates each level's encoder output after its own output, so the final
map has ``block_expansion + in_channels`` channels (142 for LivePortrait).
"""

from __future__ import annotations

import torch
from torch import nn

from workers.renderers.liveportrait.networks.blocks_3d import DownBlock3d, UpBlock3d
from workers.renderers.liveportrait.networks.channel_widths import level_width


class HourglassEncoder(nn.Module):
    """``num_blocks`` conv-pool levels; keeps every level's output for the skips."""

    def __init__(
        self, block_expansion: int, in_channels: int, num_blocks: int, max_features: int
    ) -> None:
        super().__init__()
        widths = [in_channels] + [
            level_width(block_expansion, level + 1, max_features) for level in range(num_blocks)
        ]
        self.down_blocks = nn.ModuleList(
            DownBlock3d(widths[level], widths[level + 1]) for level in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input followed by every level's output, finest first."""
        levels = [x]
        for block in self.down_blocks:
            levels.append(block(levels[-1]))
        return levels


class HourglassDecoder(nn.Module):
    """Upsample-conv levels, each followed by its encoder skip, then a 3x3x3 conv."""

    def __init__(
        self, block_expansion: int, in_channels: int, num_blocks: int, max_features: int
    ) -> None:
        super().__init__()
        blocks = []
        for level in reversed(range(num_blocks)):
            deeper = level_width(block_expansion, level + 1, max_features)
            # Below the deepest level the input is the upsampled map plus its skip.
            in_width = deeper if level == num_blocks - 1 else 2 * deeper
            blocks.append(UpBlock3d(in_width, level_width(block_expansion, level, max_features)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_channels = block_expansion + in_channels
        self.conv = nn.Conv3d(self.out_channels, self.out_channels, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_channels)

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        x = levels[-1]
        for block, skip in zip(self.up_blocks, reversed(levels[:-1]), strict=True):
            x = torch.cat((block(x), skip), dim=1)
        return torch.relu(self.norm(self.conv(x)))


class Hourglass3d(nn.Module):
    """(B, in_channels, D, H, W) -> (B, block_expansion + in_channels, D, H, W)."""

    def __init__(
        self, block_expansion: int, in_channels: int, num_blocks: int, max_features: int
    ) -> None:
        super().__init__()
        self.encoder = HourglassEncoder(block_expansion, in_channels, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_channels, num_blocks, max_features)
        self.out_channels = self.decoder.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.decoder(self.encoder(x))
        return result
