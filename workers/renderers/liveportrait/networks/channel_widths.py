"""The channel-width rule shared by every encoder-decoder of LivePortrait."""

from __future__ import annotations


def level_width(block_expansion: int, level: int, max_features: int) -> int:
    """Channels at a resolution level: doubling per level from ``block_expansion``, capped."""
    return min(max_features, block_expansion << level)
