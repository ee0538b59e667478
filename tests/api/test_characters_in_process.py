"""Listing characters: the tenant's own, newest first, in stable pages (fast tier)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import KEY_B, ClientFactory
from tests.api.test_renders_in_process import register

pytestmark = pytest.mark.anyio


async def test_characters_are_listed_newest_first_per_tenant_in_pages(
    client: httpx.AsyncClient, client_for: ClientFactory
) -> None:
    ids = [(await register(client))["id"] for _ in range(3)]
    async with client_for(KEY_B) as other:
        theirs = (await register(other))["id"]
        listed = (await other.get("/v1/characters")).json()
        assert [c["id"] for c in listed["characters"]] == [theirs]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/characters", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [c["id"] for c in page["characters"]]
        assert all(c["name"] == "astronaut" and c["face"] for c in page["characters"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert (await client.get("/v1/characters", params={"cursor": "x"})).status_code == 422
    async with client_for(None) as anonymous:
        assert (await anonymous.get("/v1/characters")).status_code == 401
