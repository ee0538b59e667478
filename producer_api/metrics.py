"""Prometheus metrics of the API: its HTTP traffic, and the queue as Redis sees it.

Request counts and latencies are labelled by route template (``/v1/renders/{job_id}``),
never by raw path, and by a method from a closed set (anything else is ``other``), so
neither job ids nor invented methods can explode the series count. Job, queue and
dead-letter figures are read from Redis at scrape time, so every API process reports
the same truth and nothing has to be kept in step. ``/metrics`` has no auth, like
``/healthz``: keep it on an internal network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer_api.tenant_metrics import TenantCollector
from render_core.errors import NotFound, QueueUnavailable, UnreadableRecord
from render_core.jobs import JobStore
from render_core.queue import render_queues
from render_core.queue_depth import queue_depths
from render_core.records import unreadable_counts
from render_core.schema import JobStatus, utc_now
from render_core.settings import Settings

log = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"
# Label values come from closed sets only: a client inventing methods must not invent series.
KNOWN_METHODS = frozenset({"GET", "POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


def status_label(status: int) -> str:
    """An HTTP status as sent (the app's own, so 100-599)."""
    return str(status) if 100 <= status <= 599 else "other"


OLDEST_CANDIDATES = 20


class RequestMetrics:
    """Requests by route and status, and their latency by route."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "avatar_render_api_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "avatar_render_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """``route`` is a template of the app's own routes (or ``<unmatched>``)."""
        method = method_label(method)
        self.requests.labels(method, route, status_label(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class RequestMetricsMiddleware:
    """Plain ASGI middleware: counts every response, streamed outputs included."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler becomes a 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            # The router leaves the matched route in the scope; its path is the template.
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


class QueueCollector(Collector):
    """Jobs by status, queue depths, the failed index, the oldest queued job's age, and the
    per-tenant figures (read in the same scrape, so a Redis outage shows once, as ``up 0``)."""

    def __init__(self, jobs: JobStore, queues: list[str], tenants: TenantCollector) -> None:
        self.jobs = jobs
        self.queues = queues
        self.tenants = tenants

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "avatar_render_job_store_up", "1 when Redis answered this scrape, else 0."
        )
        try:
            families = self._read()
        except (redis.RedisError, QueueUnavailable) as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        by_status = GaugeMetricFamily(
            "avatar_render_jobs", "Jobs in the job store, by status.", labels=["status"]
        )
        for status in JobStatus:
            by_status.add_metric([status.value], self.jobs.index.count(status))
        depth = GaugeMetricFamily(
            "avatar_render_queue_depth",
            "Messages waiting in a broker queue (not yet taken by a worker).",
            labels=["queue"],
        )
        for queue, waiting in queue_depths(self.jobs.redis, self.queues).items():
            depth.add_metric([queue], waiting)
        failed = GaugeMetricFamily(
            "avatar_render_failed_jobs", "Jobs in the failed (dead-letter) index."
        )
        failed.add_metric([], self.jobs.index.count(JobStatus.failed))
        oldest = GaugeMetricFamily(
            "avatar_render_oldest_queued_job_age_seconds",
            "Seconds since the oldest queued job was created (0 when none waits).",
        )
        oldest.add_metric([], self._oldest_queued_age_s())
        unreadable = GaugeMetricFamily(
            "avatar_render_unreadable_records",
            "Records in Redis that do not parse (skipped by every listing and loop), by kind; "
            "their keys are in the hash ar:unreadable.",
            labels=["kind"],
        )
        counts = unreadable_counts(self.jobs.redis)
        for kind in sorted({"job", *counts}):
            unreadable.add_metric([kind], counts.get(kind, 0))
        return [
            by_status,
            depth,
            failed,
            oldest,
            unreadable,
            *self._memory(),
            *self.tenants.collect(),
        ]

    def _memory(self) -> list[Metric]:
        """What the store holds in memory, and its ceiling (``INFO memory``)."""
        info = self.jobs.redis.info("memory")
        used = GaugeMetricFamily(
            "avatar_render_redis_used_memory_bytes",
            "Memory the job store's Redis uses (INFO memory used_memory).",
        )
        used.add_metric([], float(info.get("used_memory", 0)))
        ceiling = GaugeMetricFamily(
            "avatar_render_redis_maxmemory_bytes",
            "The job store's Redis memory limit (INFO memory maxmemory; 0: none).",
        )
        ceiling.add_metric([], float(info.get("maxmemory", 0)))
        return [used, ceiling]

    def _oldest_queued_age_s(self) -> float:
        """Age of the oldest queued job that can be read (one that cannot is skipped)."""
        for job_id in self.jobs.index.ids_with_status(JobStatus.queued, OLDEST_CANDIDATES):
            try:
                record = self.jobs.get(job_id)
            except (NotFound, UnreadableRecord):  # moved on since, or unreadable (noted)
                continue
            return max((utc_now() - record.created_at).total_seconds(), 0.0)
        return 0.0


def install_metrics(app: FastAPI, jobs: JobStore, settings: Settings) -> CollectorRegistry:
    """Count every request and serve ``/metrics`` from a registry of this app's own (returned,
    for the app's other figures)."""
    registry = CollectorRegistry()
    registry.register(
        QueueCollector(jobs, render_queues(settings), TenantCollector(jobs, settings))
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(registry))

    @app.api_route("/metrics", methods=["GET", "HEAD"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry
