"""Per-tenant metrics, read from Redis at scrape time like the queue figures.

Tenants are configured (API keys, ``RENDER_TENANT_LIMITS``), so the label set is closed:
any other tenant (records of a tenant since removed, say) counts as ``other``, and a
misbehaving client cannot grow the series count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from render_core import tenant_stats
from render_core.job_index import status_index, tenant_index
from render_core.jobs import JobStore
from render_core.schema import JobStatus
from render_core.settings import Settings

OTHER = "other"
GAUGED = (JobStatus.queued, JobStatus.running)


class TenantCollector(Collector):
    def __init__(self, jobs: JobStore, settings: Settings) -> None:
        self.jobs = jobs
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        yield self._jobs()
        yield from self._counters()

    def _jobs(self) -> Metric:
        family = GaugeMetricFamily(
            "avatar_render_tenant_jobs",
            "A tenant's jobs queued or running (what its queue cap counts).",
            labels=["tenant", "status"],
        )
        tenants = sorted(self.settings.known_tenants)
        pipe = self.jobs.redis.pipeline(transaction=False)
        for status in GAUGED:
            pipe.zcard(status_index(status))
            for tenant in tenants:
                pipe.zcard(tenant_index(tenant, status))
        counts = iter(int(n) for n in pipe.execute())
        for status in GAUGED:
            total = next(counts)
            known = 0
            for tenant in tenants:
                count = next(counts)
                known += count
                family.add_metric([tenant, status.value], count)
            family.add_metric([OTHER, status.value], max(total - known, 0))
        return family

    def _counters(self) -> Iterator[Metric]:
        rejected = CounterMetricFamily(
            "avatar_render_tenant_rejected",
            "Renders refused at submission, by tenant and reason (queue_full, rate_limited, "
            "overloaded); a refused batch counts each of its renders.",
            labels=["tenant", "reason"],
        )
        cache = CounterMetricFamily(
            "avatar_render_cache_requests",
            "Cacheable renders by tenant and result: hit (served from an earlier render) or "
            "miss (rendered).",
            labels=["tenant", "result"],
        )
        saved = CounterMetricFamily(
            "avatar_render_cache_bytes_saved",
            "Output bytes that cache hits did not have to render and store again.",
            labels=["tenant"],
        )
        summed: dict[tuple[str, str], int] = defaultdict(int)
        for tenant, fields in tenant_stats.read_all(self.jobs.redis).items():
            label = self.settings.tenant_label(tenant)
            for field, value in fields.items():
                summed[(label, field)] += value
        for (label, field), value in sorted(summed.items()):
            if field.startswith(f"{tenant_stats.REJECTED}:"):
                rejected.add_metric([label, field.partition(":")[2]], value)
            elif field == tenant_stats.CACHE_HITS:
                cache.add_metric([label, "hit"], value)
            elif field == tenant_stats.CACHE_MISSES:
                cache.add_metric([label, "miss"], value)
            elif field == tenant_stats.CACHE_BYTES_SAVED:
                saved.add_metric([label], value)
        yield from (rejected, cache, saved)
