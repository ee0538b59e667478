"""The renderer protocol: set up once per process, prepare a portrait, render frames in batches.

The pipeline owns everything around the pixels (status, progress, cancellation,
storage); a renderer only turns a request and a portrait into frames.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from render_core.manifest import RendererDescription
from render_core.schema import Character, RenderRequest
from render_core.settings import Settings

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


def load_renderer(settings: Settings) -> Renderer:
    """The renderer named by the settings; heavy imports happen only for the one chosen."""
    if settings.renderer == "mock":
        from workers.renderers.mock import MockRenderer

        return MockRenderer(frame_delay_s=settings.mock_frame_delay_s, faults=settings.mock_faults)
    if settings.renderer == "liveportrait":
        from workers.renderers.liveportrait.renderer import LivePortraitRenderer

        return LivePortraitRenderer(settings)
    raise ValueError(f"renderer {settings.renderer!r} is not available in this build")
