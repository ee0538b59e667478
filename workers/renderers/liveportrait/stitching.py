"""Stitching and eye/lip retargeting: three small MLPs that correct driven keypoints.

Stitching keeps the animated face aligned with the untouched parts of the portrait (what
makes paste-back seamless); the eye and lip MLPs open or close eyes and lips to a target
ratio. One module holds all three under the sub-dict names of
``stitching_retargeting_module.pth``, so its state dict is that file's manifest keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

STITCHING_SIZES = (126, 128, 128, 64, 65)
LIP_SIZES = (65, 128, 128, 64, 63)
EYE_SIZES = (66, 256, 256, 128, 128, 64, 63)


class RetargetingMLP(nn.Module):
    """Linear layers with ReLU between them, at the ``mlp.0``, ``mlp.2``, ... indices."""

    def __init__(self, sizes: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if index:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(width_in, width_out))
        self.mlp = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.mlp(features)
        return result


def _flat_pair(keypoints: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
    """``concat(keypoints.flatten(), extra)`` per row, a batch of 1 broadcast to the other."""
    flat = keypoints.flatten(start_dim=1)
    batch = max(flat.shape[0], extra.shape[0])
    return torch.cat([flat.expand(batch, -1), extra.expand(batch, -1)], dim=1)


class StitchingRetargeting(nn.Module):
    """All three MLPs; keypoints are (B, 21, 3), a source batch of 1 serves any B."""

    def __init__(self) -> None:
        super().__init__()
        self.retarget_shoulder = RetargetingMLP(STITCHING_SIZES)
        self.retarget_mouth = RetargetingMLP(LIP_SIZES)
        self.retarget_eye = RetargetingMLP(EYE_SIZES)

    def stitching_output(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        """(B, 65): 63 per-keypoint offsets, then an x, y shift of the whole face."""
        result: torch.Tensor = self.retarget_shoulder(_flat_pair(x_s, x_d.flatten(start_dim=1)))
        return result

    def stitch(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return apply_stitching(x_d, self.stitching_output(x_s, x_d))

    def eye_delta(self, x_s: torch.Tensor, eye_ratio: torch.Tensor) -> torch.Tensor:
        """Keypoint offsets for eye_ratio (B, 3) = [source left, source right, target]."""
        delta: torch.Tensor = self.retarget_eye(_flat_pair(x_s, eye_ratio))
        return delta.reshape(delta.shape[0], -1, 3)

    def lip_delta(self, x_s: torch.Tensor, lip_ratio: torch.Tensor) -> torch.Tensor:
        """Keypoint offsets for lip_ratio (B, 2) = [source, target] lip opening."""
        delta: torch.Tensor = self.retarget_mouth(_flat_pair(x_s, lip_ratio))
        return delta.reshape(delta.shape[0], -1, 3)


def apply_stitching(x_d: torch.Tensor, stitching_output: torch.Tensor) -> torch.Tensor:
    batch, num_keypoints, _ = x_d.shape
    offsets = stitching_output[:, : 3 * num_keypoints].reshape(batch, num_keypoints, 3)
    shift_xy = stitching_output[:, 3 * num_keypoints : 3 * num_keypoints + 2]
    shift = torch.cat([shift_xy, torch.zeros_like(shift_xy[:, :1])], dim=1)
    return x_d + offsets + shift[:, None, :]


def scale_motion(x_s: torch.Tensor, x_d: torch.Tensor, multiplier: float = 1.0) -> torch.Tensor:
    """Upstream's driving multiplier: exaggerate (> 1) or damp (< 1) the motion from x_s."""
    return x_s + (x_d - x_s) * multiplier
