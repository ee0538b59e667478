"""The web page's files: served from this service with a strict policy (fast tier).
The page itself runs in a real browser in tests/integration/test_ui_browser.py."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_the_page_and_its_modules_are_served_with_a_strict_policy(
    client_for: ClientFactory,
) -> None:
    async with client_for(None) as anonymous:
        moved = await anonymous.get("/ui")
        assert moved.status_code in (307, 308) and moved.headers["location"].endswith("/ui/")
        page = await anonymous.get("/ui/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        # Nothing from elsewhere, no inline script or style.
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
        assert "<script>" not in page.text and "style=" not in page.text
        for asset in ("app.js", "whep.js", "style.css", "client/index.js", "client/http.js"):
            response = await anonymous.get(f"/ui/{asset}")
            assert response.status_code == 200, asset
            assert response.headers["content-security-policy"] == policy
        module = (await anonymous.get("/ui/app.js")).text
        assert 'from "./client/index.js"' in module
        assert "localStorage" not in module and "document.cookie" not in module
        assert (await anonymous.get("/ui/missing.js")).status_code == 404


async def test_the_page_is_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]
