"""The five LivePortrait networks on one device, loaded once per worker process.

It knows how to turn images into motion and keypoints and keypoints into frames; which
keypoints each frame gets (a driving video, an emotion preset) is the renderer's business.
Keypoint maths and the stitching MLPs always run in float32: they cost nothing and the
motion heads are the precision-sensitive part. F, M, W and G run in ``dtype``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from workers.renderers.liveportrait.checkpoint import load_weights_dir
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.image_tensors import rgb_to_input
from workers.renderers.liveportrait.keypoints import (
    MotionState,
    decode_motion,
    relative_motion,
    transform_keypoints,
)
from workers.renderers.liveportrait.manifest import STITCHING_FILE, file_spec
from workers.renderers.liveportrait.networks import (
    CHECKPOINT_FILES,
    AppearanceFeatureExtractor,
    MotionExtractor,
    SpadeGenerator,
    WarpingNetwork,
    build_network,
)
from workers.renderers.liveportrait.state_dict import module_state_dict
from workers.renderers.liveportrait.stitching import StitchingRetargeting, scale_motion
from workers.renderers.liveportrait.synthetic_weights import are_synthetic

NetworkT = TypeVar("NetworkT", bound=torch.nn.Module)
# Per checkpoint file, its tensors keyed as the manifest keys them (torch or numpy).
FileTensors = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class SourceState:
    """Everything a portrait contributes to every frame: worth caching per character."""

    feature: torch.Tensor  # (1, 32, 16, h, w) appearance volume
    motion: MotionState
    x_s: torch.Tensor  # (1, 21, 3) the source's own keypoints


@dataclass(frozen=True)
class WeightsIdentity:
    """What a render manifest records about the weights that made it."""

    fingerprint: str
    synthetic: bool


def _placed(
    network_class: type[NetworkT],
    weights: FileTensors,
    device: torch.device | str,
    dtype: torch.dtype,
) -> NetworkT:
    built = build_network(network_class, weights[CHECKPOINT_FILES[network_class]])
    return built.to(device=device, dtype=dtype)


class LivePortraitModel:
    def __init__(
        self,
        appearance: AppearanceFeatureExtractor,
        motion: MotionExtractor,
        warping: WarpingNetwork,
        generator: SpadeGenerator,
        stitching: StitchingRetargeting,
        weights: WeightsIdentity,
    ) -> None:
        self.appearance = appearance
        self.motion_extractor = motion
        self.warping = warping
        self.generator = generator
        self.stitching = stitching
        self.weights = weights
        self.device = next(generator.parameters()).device
        self.dtype = next(generator.parameters()).dtype

    @classmethod
    def from_weights_dir(
        cls,
        weights_dir: Path,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> LivePortraitModel:
        """Load, strictly check and place all five files; raises ``WeightsError`` if broken."""
        weights = load_weights_dir(weights_dir)
        identity = WeightsIdentity(weights_fingerprint(weights_dir), are_synthetic(weights))
        return cls.from_weights(weights, identity, device, dtype)

    @classmethod
    def from_weights(
        cls,
        weights: FileTensors,
        identity: WeightsIdentity,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> LivePortraitModel:
        """Place tensors already in memory (a loaded directory, or the kit's rule weights
        for a benchmark that needs no files); every network loads them strictly."""
        stitching = StitchingRetargeting()
        spec = file_spec(STITCHING_FILE)
        stitching.load_state_dict(module_state_dict(spec, weights[STITCHING_FILE]), strict=True)
        stitching.eval().requires_grad_(False).to(device=device)
        return cls(
            appearance=_placed(AppearanceFeatureExtractor, weights, device, dtype),
            motion=_placed(MotionExtractor, weights, device, dtype),
            warping=_placed(WarpingNetwork, weights, device, dtype),
            generator=_placed(SpadeGenerator, weights, device, dtype),
            stitching=stitching,
            weights=identity,
        )

    def decoded_motion(self, image: torch.Tensor) -> MotionState:
        """(B, 3, H, W) network input to motion in float32 (angles, rotation, keypoints)."""
        heads = self.motion_extractor(image)
        return decode_motion({name: head.float() for name, head in heads._asdict().items()})

    @torch.inference_mode()
    def extract_motion(self, rgb: torch.Tensor) -> MotionState:
        """(B, H, W, 3) uint8 images (square, 256 in production) to decoded motion."""
        return self.decoded_motion(rgb_to_input(rgb, self.device, self.dtype))

    @torch.inference_mode()
    def prepare_source(self, rgb: torch.Tensor) -> SourceState:
        """(H, W, 3) uint8 source crop to its appearance volume, motion and keypoints."""
        image = rgb_to_input(rgb, self.device, self.dtype)
        motion = self.decoded_motion(image)
        return SourceState(self.appearance(image), motion, transform_keypoints(motion))

    @torch.inference_mode()
    def stitch(self, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return self.stitching.stitch(x_s, x_d)

    @torch.inference_mode()
    def driven_keypoints(
        self,
        source: SourceState,
        reference: MotionState,
        driving: MotionState,
        multiplier: float = 1.0,
    ) -> torch.Tensor:
        """Upstream's default video path: relative motion, stitching, driving multiplier."""
        x_d = relative_motion(source.motion, reference, driving).keypoints
        return scale_motion(source.x_s, self.stitching.stitch(source.x_s, x_d), multiplier)

    @torch.inference_mode()
    def render(self, source: SourceState, x_d: torch.Tensor) -> torch.Tensor:
        """(B, 21, 3) driving keypoints to (B, 3, 2H, 2W) float32 frames in [0, 1]; the
        source volume is shared across the batch, not copied."""
        warped = self.warping(
            source.feature, source.x_s.to(self.dtype), x_d.to(device=self.device, dtype=self.dtype)
        )
        frames: torch.Tensor = self.generator(warped.out)
        return frames.float()
