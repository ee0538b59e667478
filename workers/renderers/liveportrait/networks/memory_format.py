"""Channels-last storage for every convolution kernel (NHWC, and NDHWC for 3-D).

PyTorch runs a convolution channels-last when its kernel is, and activations then stay
channels-last from layer to layer. cuDNN's half-precision tensor-core kernels work in
that layout; with NCHW tensors each convolution pays for transposes around it.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

NetworkT = TypeVar("NetworkT", bound=nn.Module)


def to_channels_last(network: NetworkT) -> NetworkT:
    """Convert ``network``'s convolution kernels in place; results are unchanged."""
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            layout = torch.channels_last
        elif isinstance(module, nn.Conv3d):
            layout = torch.channels_last_3d
        else:
            continue
        module.weight.data = module.weight.data.contiguous(memory_format=layout)
    return network
