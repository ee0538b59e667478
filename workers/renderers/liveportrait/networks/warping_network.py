"""Warping module W: warps the source feature volume to the driving keypoints.

The dense motion network turns the keypoint pairs into a deformation and an occlusion
map; the source volume is resampled with the deformation, flattened to 2-D
(channels x depth), projected to 256 channels and masked by the occlusion map.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from workers.renderers.liveportrait.networks.blocks_2d import ConvBatchNormAct2d
from workers.renderers.liveportrait.networks.channel_widths import level_width
from workers.renderers.liveportrait.networks.dense_motion import DenseMotionNetwork


class WarpResult(NamedTuple):
    out: torch.Tensor
    """(B, 256, H, W) warped feature map, already multiplied by the occlusion map."""
    occlusion_map: torch.Tensor
    """(B, 1, H, W)."""
    deformation: torch.Tensor
    """(B, D, H, W, 3)."""


class WarpingNetwork(nn.Module):
    """(feature, kp_source, kp_driving) -> WarpResult.

    The source feature volume (and ``kp_source``) may have batch 1 and is then shared by
    all B driving keypoint sets without a copy: the usual case of one portrait animated
    over a batch of frames.
    """

    def __init__(
        self,
        num_kp: int,
        block_expansion: int,
        max_features: int,
        num_down_blocks: int,
        reshape_channel: int,
        estimate_occlusion_map: bool,
        dense_motion_params: dict[str, Any],
    ) -> None:
        super().__init__()
        if not estimate_occlusion_map:
            raise ValueError("the LivePortrait warping module always estimates occlusion")
        self.dense_motion_network = DenseMotionNetwork(
            num_kp=num_kp, feature_channel=reshape_channel, **dense_motion_params
        )
        out_channels = level_width(block_expansion, num_down_blocks, max_features)
        self.third = ConvBatchNormAct2d(max_features, out_channels, leaky=True)
        self.fourth = nn.Conv2d(out_channels, out_channels, kernel_size=1)

    def forward(
        self, feature: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor
    ) -> WarpResult:
        motion = self.dense_motion_network(feature, kp_source, kp_driving)
        batch = kp_driving.shape[0]
        source = feature.expand(batch, -1, -1, -1, -1)
        warped = F.grid_sample(source, motion.deformation, align_corners=False)
        _, channels, depth, height, width = warped.shape
        out = self.fourth(self.third(warped.reshape(batch, channels * depth, height, width)))
        return WarpResult(
            out=out * motion.occlusion_map,
            occlusion_map=motion.occlusion_map,
            deformation=motion.deformation,
        )
