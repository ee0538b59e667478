"""LivePortrait's four inference networks (F, M, W, G) in our own PyTorch.

State-dict keys equal the official checkpoints' keys (spectral norm folded), so the files
load strictly; see ``build.build_network``.
"""

from workers.renderers.liveportrait.networks.appearance_feature_extractor import (
    AppearanceFeatureExtractor,
)
from workers.renderers.liveportrait.networks.build import CHECKPOINT_FILES, build_network
from workers.renderers.liveportrait.networks.cuda_graph import CapturedStep
from workers.renderers.liveportrait.networks.memory_format import to_channels_last
from workers.renderers.liveportrait.networks.motion_extractor import MotionExtractor, MotionHeads
from workers.renderers.liveportrait.networks.spade_generator import SpadeGenerator
from workers.renderers.liveportrait.networks.warp_decode import WarpDecode
from workers.renderers.liveportrait.networks.warping_network import WarpingNetwork, WarpResult

__all__ = [
    "CHECKPOINT_FILES",
    "AppearanceFeatureExtractor",
    "CapturedStep",
    "MotionExtractor",
    "MotionHeads",
    "SpadeGenerator",
    "WarpDecode",
    "WarpResult",
    "WarpingNetwork",
    "build_network",
    "to_channels_last",
]
