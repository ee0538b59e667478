"""Metric labels come from closed sets: clients cannot grow the scrape (fast tier)."""

from __future__ import annotations

import httpx
import pytest

from tests.scrape import parse_samples

pytestmark = pytest.mark.anyio


async def test_invented_methods_and_paths_leave_the_scrape_small(
    client: httpx.AsyncClient,
) -> None:
    before = len((await client.get("/metrics")).text)
    for number in range(3000):
        method = f"M{number:04d}X"
        response = await client.request(method, f"/v1/renders/{number}/x{number}")
        assert response.status_code < 500
    for method in ("GET", "PATCH", "PUT", "OPTIONS"):
        await client.request(method, "/v1/renders")
    page = (await client.get("/metrics")).text
    assert "M0001X" not in page and 'method="other"' in page
    request_lines = [line for line in page.splitlines() if "api_request" in line]
    assert len(request_lines) < 200, len(request_lines)
    assert len(page) < before + 40_000, len(page) - before


async def test_the_store_memory_is_a_metric(client: httpx.AsyncClient) -> None:
    samples = parse_samples((await client.get("/metrics")).text)
    assert samples.get("avatar_render_redis_used_memory_bytes") > 100_000
    assert samples.has("avatar_render_redis_maxmemory_bytes")
