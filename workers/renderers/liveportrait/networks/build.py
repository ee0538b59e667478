"""Construct a network from the manifest and load a checkpoint's tensors into it, strictly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from torch import nn

from workers.renderers.liveportrait.manifest import file_spec
from workers.renderers.liveportrait.networks.appearance_feature_extractor import (
    AppearanceFeatureExtractor,
)
from workers.renderers.liveportrait.networks.motion_extractor import MotionExtractor
from workers.renderers.liveportrait.networks.spade_generator import SpadeGenerator
from workers.renderers.liveportrait.networks.warping_network import WarpingNetwork
from workers.renderers.liveportrait.state_dict import module_state_dict

NetworkT = TypeVar("NetworkT", bound=nn.Module)

CHECKPOINT_FILES: dict[type[nn.Module], str] = {
    AppearanceFeatureExtractor: "appearance_feature_extractor.pth",
    MotionExtractor: "motion_extractor.pth",
    WarpingNetwork: "warping_module.pth",
    SpadeGenerator: "spade_generator.pth",
}


def build_network(network_class: type[NetworkT], tensors: Mapping[str, Any]) -> NetworkT:
    """An inference-ready network (eval mode, no gradients) from manifest-keyed tensors.

    ``tensors`` holds one checkpoint file's contents keyed as the manifest writes them
    (spectral-norm triples, optional ``num_batches_tracked``); the strict load makes a
    missing, extra or misshapen tensor an error rather than a silently wrong network.
    """
    spec = file_spec(CHECKPOINT_FILES[network_class])
    network = network_class(**spec.constructor)
    network.load_state_dict(module_state_dict(spec, tensors), strict=True)
    network.eval().requires_grad_(False)
    return network
