"""The renderer protocol: set up once per process, prepare a portrait, render frames in batches.

The pipeline owns everything around the pixels (status, progress, cancellation,
storage); a renderer only turns a request and a portrait into frames. This module is the
base every renderer imports and imports none of them; ``workers.renderers.registry``
picks one by name.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from render_core.manifest import RendererDescription
from render_core.schema import Character, RenderRequest

Frame = NDArray[np.uint8]


class PreparedSource(Protocol):
    """Whatever a renderer computes once per portrait (opaque to the pipeline)."""

    @property
    def from_cache(self) -> bool:
        """True when it came from the renderer's source cache rather than being computed."""
        ...


class Renderer(Protocol):
    name: str
    version: str

    def setup(self) -> None:
        """Load weights and warm up; runs once per worker process, before it consumes."""

    def describe(self) -> RendererDescription:
        """Name, version and weights, for job records and manifests."""
        ...

    def prepare(self, character: Character, portrait: Frame, size: int) -> PreparedSource:
        """Per-character work that every frame of a ``size`` px render of it can reuse."""
        ...

    def render_batch(
        self, source: PreparedSource, request: RenderRequest, indices: range
    ) -> list[Frame]:
        """Frames ``indices`` of the clip, each ``size x size x 3`` uint8 RGB."""
        ...
