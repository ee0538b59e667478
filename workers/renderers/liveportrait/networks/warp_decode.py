"""The per-frame GPU step: warp the source volume to the driving keypoints, then decode.

W and G run once per output frame and do ~99 % of a frame's work, so this pair is the
unit to batch, run in half precision and capture as a CUDA graph.
"""

from __future__ import annotations

import torch
from torch import nn

from workers.renderers.liveportrait.networks.spade_generator import SpadeGenerator
from workers.renderers.liveportrait.networks.warping_network import WarpingNetwork


class WarpDecode(nn.Module):
    """(feature, kp_source, kp_driving) -> float32 image (B, 3, 8h, 8w) in [0, 1].

    ``half_precision`` runs both networks under float16 autocast (upstream's CUDA
    default, PSNR ~51 dB against float32); never bfloat16, which loses ~17 dB more. The
    autocast weight cache is off so the step can be captured in a CUDA graph; re-casting
    the weights costs well under a millisecond per batch.
    """

    def __init__(
        self, warping: WarpingNetwork, generator: SpadeGenerator, *, half_precision: bool
    ) -> None:
        super().__init__()
        self.warping = warping
        self.generator = generator
        self.half_precision = half_precision

    def forward(
        self, feature: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor
    ) -> torch.Tensor:
        with torch.autocast(
            device_type=feature.device.type,
            dtype=torch.float16,
            enabled=self.half_precision,
            cache_enabled=False,
        ):
            image: torch.Tensor = self.generator(self.warping(feature, kp_source, kp_driving).out)
        return image.float()
