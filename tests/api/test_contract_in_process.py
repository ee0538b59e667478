"""What the OpenAPI document promises, checked on the app in this process: the committed
document is the app's, 405s say what is allowed, HEAD probes answer, docs need no CDN."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from producer_api.docs import openapi_text

pytestmark = pytest.mark.anyio

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"


def test_the_committed_document_is_the_apps(app: FastAPI) -> None:
    assert COMMITTED.read_text() == openapi_text(app), (
        "openapi.json is stale: run `avatar-render openapi --out openapi.json`"
    )


def test_every_v1_operation_needs_the_bearer_scheme(app: FastAPI) -> None:
    document = app.openapi()
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of one tenant: `Authorization: Bearer <key>`.",
    }
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    for path, method, operation in operations:
        secured = operation.get("security") == [{"ApiKey": []}]
        assert secured == path.startswith("/v1"), (method, path)
        if path.startswith("/v1"):
            assert {"401", "422", "503"} <= set(operation["responses"]), (method, path)


async def test_a_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("PATCH", "/v1/renders")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    one = await client.request("TRACE", "/v1/renders/abc/cancel")
    assert one.status_code == 405 and one.headers["allow"] == "POST"
    batch = await client.request("DELETE", "/v1/renders/batch")  # not the render "batch"
    assert batch.status_code == 405 and batch.headers["allow"] == "POST"


async def test_an_unparsable_body_is_400_not_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/renders", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_head_works_on_the_probes(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        response = await client.head(path)
        assert response.status_code in (200, 503), path
        assert response.content == b""
    assert (await client.head("/healthz")).status_code == 200


async def test_the_docs_load_nothing_from_outside(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert not re.search(r"""(src|href)=["']?https?://""", html), page
        for asset in re.findall(r"""(?:src|href)=["']?(/docs/assets/[^"' >]+)""", html):
            fetched = await client.get(asset)
            assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
    assert "swagger-ui-bundle.js" in (await client.get("/docs")).text
