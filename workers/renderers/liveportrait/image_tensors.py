"""uint8 RGB images to network inputs and network outputs back to uint8, on the device.

Both follow upstream exactly (divide by 255; clip, scale by 255 and truncate), because the
uint8 goldens are only reproducible with the same rounding.
"""

from __future__ import annotations

import torch


def rgb_to_input(rgb: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(B, H, W, 3) or (H, W, 3) uint8 to (B, 3, H, W) values in [0, 1]."""
    batch = rgb if rgb.ndim == 4 else rgb[None]
    planar = batch.to(device).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    return planar.to(dtype)


def output_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) generator output to (B, H, W, 3) uint8, truncating like upstream."""
    scaled = image.to(torch.float32).clamp(0.0, 1.0) * 255.0
    return scaled.clamp(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1)
