"""Prometheus metrics of the webhook dispatcher.

Counters and histograms count what this process did; the outbox and the paused
endpoints are read from Redis at scrape time, so every dispatcher reports the same
figures for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dispatcher.outbox import DUE_KEY
from render_core.webhooks import PAUSED_KEY


class OutboxCollector(Collector):
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "avatar_render_webhook_deliveries_waiting",
            "Deliveries in the outbox: due, retrying later, or being sent.",
        )
        overdue = GaugeMetricFamily(
            "avatar_render_webhook_oldest_overdue_seconds",
            "How long the most overdue delivery has waited past its due time (the lag).",
        )
        paused = GaugeMetricFamily(
            "avatar_render_webhook_paused_endpoints", "Endpoints paused after failing too long."
        )
        try:
            first = cast(
                "list[tuple[str, float]]", self.redis.zrange(DUE_KEY, 0, 0, withscores=True)
            )
            waiting.add_metric([], int(self.redis.zcard(DUE_KEY)))
            overdue.add_metric([], max(0.0, time.time() - first[0][1]) if first else 0.0)
            paused.add_metric([], int(self.redis.scard(PAUSED_KEY)))
        except redis.RedisError:
            return
        yield from (waiting, overdue, paused)


class DispatcherMetrics:
    def __init__(self, client: redis.Redis | None = None) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "avatar_render_webhook_deliveries",
            "Delivery attempts by outcome: delivered, retrying, dead, dropped.",
            ["outcome"],
            registry=self.registry,
        )
        self.failures = Counter(
            "avatar_render_webhook_failures",
            "Failed attempts by reason: http_status, redirect, timeout, connect, refused_url.",
            ["reason"],
            registry=self.registry,
        )
        self.lag = Histogram(
            "avatar_render_webhook_delivery_lag_seconds",
            "From the event to its successful delivery.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400),
            registry=self.registry,
        )
        self.duration = Histogram(
            "avatar_render_webhook_attempt_seconds",
            "Time one attempt took, DNS included.",
            registry=self.registry,
        )
        if client is not None:
            self.registry.register(OutboxCollector(client))

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
