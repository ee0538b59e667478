"""The renderer protocol: set up once per process, prepare a portrait, plan a clip once,
render its frames in batches.

The pipeline owns everything around the pixels (status, progress, cancellation,
storage); a renderer only turns a request and a portrait into frames. This module is the
base every renderer imports and imports none of them; ``workers.renderers.registry``
picks one by name.

A renderer names its own source and plan types (``Renderer[MySource, MyPlan]``), so it
receives exactly what it made: no re-checks of the request or casts between the calls.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from render_core.manifest import RendererDescription
from render_core.schema import Character, RenderRequest

Frame = NDArray[np.uint8]


class PreparedSource(Protocol):
    """What a renderer computes once per portrait and output size (opaque to the pipeline)."""

    @property
    def size(self) -> int:
        """The output side it was prepared for: every frame rendered from it has this side."""
        ...

    @property
    def from_cache(self) -> bool:
        """True when it came from the renderer's source cache rather than being computed."""
        ...


SourceT = TypeVar("SourceT", bound=PreparedSource)
PlanT = TypeVar("PlanT")


class Renderer(Protocol[SourceT, PlanT]):
    name: str
    version: str

    def setup(self) -> None:
        """Load weights and warm up; runs once per worker process, before it consumes."""

    def describe(self) -> RendererDescription:
        """Name, version and weights, for job records and manifests."""
        ...

    def prepare(self, character: Character, portrait: Frame, size: int) -> SourceT:
        """Per-character work that every frame of a ``size`` px render of it can reuse."""
        ...

    def plan(self, request: RenderRequest) -> PlanT:
        """Per-job work that every batch of the clip reuses (motion over time, seeds)."""
        ...

    def render_batch(self, source: SourceT, plan: PlanT, indices: range) -> list[Frame]:
        """Frames ``indices`` of the planned clip, each ``source.size`` square, uint8 RGB."""
        ...
