"""Paste rendered 512x512 crop-space frames back into the original portrait, on the device.

Upstream does this per frame on the CPU with ``cv2.warpAffine`` (bilinear, constant black
border) and a blend with the warped crop mask. Here the sampling grid and the mask are
prepared once per source portrait, and a batch of frames is warped with one
``grid_sample`` call, so frames need not leave the GPU before encoding. Warped values are
rounded to whole uint8 levels like OpenCV's, and the blend is truncated to uint8 like
upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class PasteBack:
    """Per-source state: where each original pixel samples the crop, and how much of it."""

    grid: torch.Tensor  # (1, H, W, 2) grid_sample coordinates into the crop
    mask: torch.Tensor  # (H, W, 1) float32 in [0, 1], the crop mask in original space
    original: torch.Tensor  # (H, W, 3) uint8 portrait
    crop_size: tuple[int, int]  # (h, w) of the frames to paste


def feathered_mask(size: int, edge: float = 0.1) -> torch.Tensor:
    """Our blending mask in crop space, (size, size) uint8: 1 inside, fading to 0 over the
    outer ``edge`` of each side, so the animated crop melts into the portrait."""
    steps = torch.arange(size, dtype=torch.float64)
    ramp = (torch.minimum(steps, steps.flip(0)) / (edge * size)).clamp(0.0, 1.0)
    return (torch.outer(ramp, ramp) * 255.0).to(torch.uint8)


def crop_sampling_grid(
    crop_to_original: torch.Tensor,
    crop_size: tuple[int, int],
    original_size: tuple[int, int],
    device: torch.device,
) -> torch.Tensor:
    """For every original pixel, its position in the crop as ``grid_sample`` coordinates
    (``align_corners=False``): the inverse of the 3x3 crop-to-original affine."""
    original_to_crop = torch.linalg.inv(crop_to_original.to(device=device, dtype=torch.float64))
    height, width = original_size
    rows = torch.arange(height, device=device, dtype=torch.float64)
    cols = torch.arange(width, device=device, dtype=torch.float64)
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    pixels = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # (H, W, 3)
    crop_xy = pixels @ original_to_crop[:2].T  # (H, W, 2) crop pixel coordinates
    crop_height, crop_width = crop_size
    extent = torch.tensor([crop_width, crop_height], device=device, dtype=torch.float64)
    normalised: torch.Tensor = (2.0 * crop_xy + 1.0) / extent - 1.0
    return normalised.to(torch.float32)[None]


def _warp_to_levels(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B, h, w, C) uint8 crop images to (B, H, W, C) float32 whole levels, black outside."""
    planar = images.permute(0, 3, 1, 2).to(torch.float32)
    warped = F.grid_sample(
        planar,
        grid.expand(images.shape[0], -1, -1, -1),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return warped.round().clamp(0.0, 255.0).permute(0, 2, 3, 1)


def prepare_paste_back(
    original: torch.Tensor, mask_crop: torch.Tensor, crop_to_original: torch.Tensor
) -> PasteBack:
    """Once per source: ``original`` (H, W, 3) uint8, ``mask_crop`` (h, w) uint8 crop-space
    blending mask, ``crop_to_original`` the (3, 3) affine from crop to original pixels."""
    device = original.device
    crop_size = (mask_crop.shape[0], mask_crop.shape[1])
    original_size = (original.shape[0], original.shape[1])
    grid = crop_sampling_grid(crop_to_original, crop_size, original_size, device)
    levels = _warp_to_levels(mask_crop.to(device)[None, :, :, None], grid)
    return PasteBack(grid=grid, mask=levels[0] / 255.0, original=original, crop_size=crop_size)


def paste_back(frames: torch.Tensor, plan: PasteBack) -> torch.Tensor:
    """(B, h, w, 3) uint8 crop-space frames to (B, H, W, 3) uint8 portraits."""
    if tuple(frames.shape[1:3]) != plan.crop_size:
        raise ValueError(f"frames are {tuple(frames.shape[1:3])}, the mask is {plan.crop_size}")
    warped = _warp_to_levels(frames, plan.grid)
    blended = plan.mask * warped + (1.0 - plan.mask) * plan.original.to(torch.float32)
    return blended.clamp(0.0, 255.0).to(torch.uint8)
