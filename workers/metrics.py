"""Prometheus metrics of a worker process, served on its own port from the pool child.

The child renders, so the child counts: attempts by outcome, frames and the time a frame
takes, source-cache hits, model load time and GPU memory. Each pool child serves its own
registry on ``RENDER_WORKER_METRICS_PORT`` plus its pool index (one child per GPU worker:
the port itself).
"""

from __future__ import annotations

import logging
import sys
from functools import partial

import billiard  # type: ignore[import-untyped]
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

log = logging.getLogger(__name__)

ATTEMPT_OUTCOMES = ("succeeded", "failed", "retried", "cancelled", "skipped", "deferred")
# From a mock frame (about a millisecond) to LivePortrait on a CPU (seconds).
FRAME_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _cuda_memory(kind: str) -> float:
    """Bytes of CUDA memory torch holds, without importing torch or initialising CUDA.

    A mock worker never imports torch, and touching CUDA here could initialise it in a
    process that should not own a context; so: 0 unless this process already uses it.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return 0.0
    reader = torch.cuda.memory_allocated if kind == "allocated" else torch.cuda.memory_reserved
    return float(reader())


class PrometheusEvents:
    """A ``workers.events.RenderEvents`` listener that counts into its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.attempts = Counter(
            "avatar_render_worker_attempts",
            "Render attempts that ended, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ATTEMPT_OUTCOMES:
            self.attempts.labels(outcome)
        self.frames = Counter(
            "avatar_render_worker_frames_rendered",
            "Frames the renderer produced.",
            registry=self.registry,
        )
        self.frame_seconds = Histogram(
            "avatar_render_worker_frame_seconds",
            "Renderer time of one frame (a batch's time shared by its frames).",
            buckets=FRAME_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.sources = Counter(
            "avatar_render_worker_sources_prepared",
            "Portraits prepared for rendering, by source-cache result.",
            ["cache"],
            registry=self.registry,
        )
        for result in ("hit", "miss"):
            self.sources.labels(result)
        self.model_load_seconds = Gauge(
            "avatar_render_worker_model_load_seconds",
            "Time the renderer's set-up (weights load and warm-up) took in this process.",
            registry=self.registry,
        )
        for kind in ("allocated", "reserved"):
            gauge = Gauge(
                f"avatar_render_worker_gpu_memory_{kind}_bytes",
                f"CUDA memory {kind} by torch in this process (0 when CUDA is unused).",
                registry=self.registry,
            )
            gauge.set_function(partial(_cuda_memory, kind))

    def frames_rendered(self, count: int, seconds: float) -> None:
        self.frames.inc(count)
        for _ in range(count):
            self.frame_seconds.observe(seconds / count)

    def source_prepared(self, cache_hit: bool, seconds: float) -> None:
        self.sources.labels("hit" if cache_hit else "miss").inc()

    def attempt_finished(self, outcome: str) -> None:
        self.attempts.labels(outcome).inc()

    def model_loaded(self, seconds: float) -> None:
        self.model_load_seconds.set(seconds)

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` from this process on ``port`` plus its pool index."""
        index = int(getattr(billiard.current_process(), "index", 0) or 0)
        try:
            start_http_server(port + index, addr=host, registry=self.registry)
        except OSError as exc:  # a busy port must not keep the worker from rendering
            log.warning("worker metrics not served on %s:%d: %s", host, port + index, exc)
            return
        log.info("worker metrics on http://%s:%d/metrics", host, port + index)
