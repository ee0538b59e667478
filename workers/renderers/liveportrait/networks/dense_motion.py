"""Dense motion network: from 21 keypoint pairs to a dense 3-D deformation and an occlusion map.

Each keypoint k defines a sparse motion "move the neighbourhood of driving point k to
source point k" (a pure translation of the whole grid), plus an identity motion for the
background. The hourglass sees the compressed source volume warped by every sparse
motion, together with Gaussian heatmap differences of the keypoints, and predicts per
voxel a softmax over the 22 motions; their weighted sum is the deformation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from workers.renderers.liveportrait.networks.coordinate_grid import CoordinateGridCache
from workers.renderers.liveportrait.networks.hourglass import Hourglass3d

KEYPOINT_VARIANCE = 0.01
MASK_KERNEL = 7
OCCLUSION_KERNEL = 7


class DenseMotion(NamedTuple):
    deformation: torch.Tensor
    """(B, D, H, W, 3) sampling grid in (x, y, z) order for grid_sample."""
    occlusion_map: torch.Tensor
    """(B, 1, H, W) in (0, 1)."""


def _as_volume_points(keypoints: torch.Tensor) -> torch.Tensor:
    """(B, K, 3) -> (B, K, 1, 1, 1, 3), to broadcast against a (D, H, W, 3) grid."""
    batch, count, _ = keypoints.shape
    return keypoints.reshape(batch, count, 1, 1, 1, 3)


def keypoint_gaussians(grid: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
    """(B, K, D, H, W) isotropic Gaussians of variance 0.01 centred on (B, K, 3) keypoints."""
    offsets = grid - _as_volume_points(keypoints)
    return torch.exp(-0.5 * offsets.pow(2).sum(-1) / KEYPOINT_VARIANCE)


def sparse_motions(
    grid: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor
) -> torch.Tensor:
    """(B, K+1, D, H, W, 3): the identity grid, then ``grid - driving_k + source_k``."""
    batch = kp_driving.shape[0]
    per_keypoint = grid - _as_volume_points(kp_driving) + _as_volume_points(kp_source)
    identity = grid.expand(batch, 1, *grid.shape)
    return torch.cat((identity, per_keypoint), dim=1)


class DenseMotionNetwork(nn.Module):
    """(source volume, kp_source, kp_driving) -> DenseMotion, at the volume's resolution."""

    def __init__(
        self,
        block_expansion: int,
        num_blocks: int,
        max_features: int,
        num_kp: int,
        feature_channel: int,
        reshape_depth: int,
        compress: int,
    ) -> None:
        super().__init__()
        motions = num_kp + 1
        # Per motion: one heatmap channel and the compressed warped feature.
        self.hourglass = Hourglass3d(
            block_expansion, motions * (compress + 1), num_blocks, max_features
        )
        hidden = self.hourglass.out_channels
        self.mask = nn.Conv3d(hidden, motions, MASK_KERNEL, padding=MASK_KERNEL // 2)
        self.compress = nn.Conv3d(feature_channel, compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(compress)
        self.occlusion = nn.Conv2d(
            hidden * reshape_depth, 1, OCCLUSION_KERNEL, padding=OCCLUSION_KERNEL // 2
        )
        self.grids = CoordinateGridCache()

    def forward(
        self, feature: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor
    ) -> DenseMotion:
        """``feature`` (B or 1, C, D, H, W); keypoints (B, K, 3), ``kp_source`` may have B=1."""
        batch = kp_driving.shape[0]
        compressed = F.relu(self.norm(self.compress(feature)))
        compressed = compressed.expand(batch, -1, -1, -1, -1)
        _, channels, depth, height, width = compressed.shape
        grid = self.grids.get(depth, height, width, kp_driving.device, kp_driving.dtype)

        motions = sparse_motions(grid, kp_source, kp_driving)
        # All K+1 warps in one call: the motions are stacked along the output depth.
        warped = F.grid_sample(
            compressed,
            motions.reshape(batch, -1, height, width, 3),
            align_corners=False,
        )
        warped = warped.reshape(batch, channels, -1, depth, height, width).transpose(1, 2)

        heatmaps = keypoint_gaussians(grid, kp_driving) - keypoint_gaussians(grid, kp_source)
        background = heatmaps.new_zeros(batch, 1, depth, height, width)
        heatmaps = torch.cat((background, heatmaps), dim=1).unsqueeze(2)

        stacked = torch.cat((heatmaps, warped), dim=2)
        prediction = self.hourglass(stacked.reshape(batch, -1, depth, height, width))

        weights = F.softmax(self.mask(prediction), dim=1)
        deformation = (motions * weights.unsqueeze(-1)).sum(dim=1)
        occlusion_map = torch.sigmoid(self.occlusion(prediction.reshape(batch, -1, height, width)))
        return DenseMotion(deformation=deformation, occlusion_map=occlusion_map)
