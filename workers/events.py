"""What the pipeline tells the outside world as it renders (metrics listen here).

The pipeline calls these hooks; the default does nothing, the Prometheus exporter of
``workers.metrics`` counts. Keeping the hooks in one protocol keeps metric names and
libraries out of the pipeline.
"""

from __future__ import annotations

from typing import Protocol


class RenderEvents(Protocol):
    def frames_rendered(self, count: int, seconds: float) -> None:
        """A batch of ``count`` frames took ``seconds`` of renderer time."""

    def source_prepared(self, cache_hit: bool, seconds: float) -> None:
        """A portrait was prepared, from the renderer's cache or computed."""

    def attempt_finished(self, outcome: str) -> None:
        """An attempt ended: succeeded, failed, retried, cancelled or skipped."""


class NoEvents:
    """The default listener: nobody is counting."""

    def frames_rendered(self, count: int, seconds: float) -> None:
        pass

    def source_prepared(self, cache_hit: bool, seconds: float) -> None:
        pass

    def attempt_finished(self, outcome: str) -> None:
        pass
