"""Motion extractor M: an image to its implicit keypoints, head pose, translation and expression.

Heads return raw values; turning the pose bins into degrees and building rotation
matrices is keypoint maths, not part of this network.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from workers.renderers.liveportrait.networks.convnext_v2 import TINY_DIMS, ConvNeXtV2

POSE_BINS = 66
SUPPORTED_BACKBONE = "convnextv2_tiny"


class MotionHeads(NamedTuple):
    """Raw outputs for a batch of B images."""

    pitch: torch.Tensor
    """(B, 66) bin logits."""
    yaw: torch.Tensor
    """(B, 66) bin logits."""
    roll: torch.Tensor
    """(B, 66) bin logits."""
    t: torch.Tensor
    """(B, 3) translation."""
    exp: torch.Tensor
    """(B, 3 * num_kp) expression offsets."""
    scale: torch.Tensor
    """(B, 1)."""
    kp: torch.Tensor
    """(B, 3 * num_kp) canonical keypoints."""


class KeypointDetector(ConvNeXtV2):
    """ConvNeXt-V2 tiny with the linear heads; the checkpoint's ``detector.`` module."""

    def __init__(self, num_kp: int) -> None:
        super().__init__()
        width = TINY_DIMS[-1]
        self.fc_kp = nn.Linear(width, 3 * num_kp)
        self.fc_scale = nn.Linear(width, 1)
        self.fc_pitch = nn.Linear(width, POSE_BINS)
        self.fc_yaw = nn.Linear(width, POSE_BINS)
        self.fc_roll = nn.Linear(width, POSE_BINS)
        self.fc_t = nn.Linear(width, 3)
        self.fc_exp = nn.Linear(width, 3 * num_kp)

    def forward(self, image: torch.Tensor) -> MotionHeads:
        x = self.features(image)
        return MotionHeads(
            pitch=self.fc_pitch(x),
            yaw=self.fc_yaw(x),
            roll=self.fc_roll(x),
            t=self.fc_t(x),
            exp=self.fc_exp(x),
            scale=self.fc_scale(x),
            kp=self.fc_kp(x),
        )


class MotionExtractor(nn.Module):
    """(B, 3, H, W) image in [0, 1] -> MotionHeads."""

    def __init__(self, num_kp: int, backbone: str) -> None:
        super().__init__()
        if backbone != SUPPORTED_BACKBONE:
            raise ValueError(f"unsupported backbone {backbone!r}; only {SUPPORTED_BACKBONE}")
        self.detector = KeypointDetector(num_kp)

    def forward(self, image: torch.Tensor) -> MotionHeads:
        heads: MotionHeads = self.detector(image)
        return heads
