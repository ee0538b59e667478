"""The whole path on S3: API and mock worker processes writing to a real SeaweedFS bucket,
clients fetching the outputs from presigned URLs on the public host, without credentials."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from tests.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedServer
from tests.stack import Stack
from tests.storage.s3_stack import (
    STORE_PREFIX,
    api_client,
    new_bucket,
    register,
    render,
    running_s3_stack,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_stack(
    redis_server: LocalRedis, seaweed: SeaweedServer, tmp_path: Path
) -> Iterator[tuple[Stack, str]]:
    bucket = new_bucket(seaweed)
    with running_s3_stack(
        redis_server.url, tmp_path, seaweed, bucket, (ACCESS_KEY, SECRET_KEY)
    ) as stack:
        stack.start_worker("s3-e2e-mock")
        stack.start_api()
        yield stack, bucket


def _redirect(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 307, response.text
    return response.headers["location"]


def test_outputs_are_served_from_presigned_urls_on_the_public_host(
    s3_stack: tuple[Stack, str], seaweed: SeaweedServer
) -> None:
    stack, bucket = s3_stack
    with api_client(stack) as client:
        job = render(client, register(client), outputs=["frames", "mp4"])
        manifest = client.get(f"/v1/renders/{job['id']}/manifest").json()
        wanted = {
            f"/v1/renders/{job['id']}/frames/2": manifest["frames"][2],
            f"/v1/renders/{job['id']}/clip.mp4": manifest["clip"],
        }
        first_urls = {path: _redirect(client, path) for path in wanted}
        time.sleep(1.1)  # the signature includes the time, in whole seconds
        second_urls = {path: _redirect(client, path) for path in wanted}

    # Nothing stored in the API's or the worker's local directory: it all went to S3.
    assert not stack.storage_dir.exists()
    for path, entry in wanted.items():
        url = urlparse(first_urls[path])
        assert (url.scheme, url.hostname, url.port) == ("http", "localhost", seaweed.s3_port)
        assert url.path == f"/{bucket}/{STORE_PREFIX}/{entry['key']}"
        assert second_urls[path] != first_urls[path]  # signed anew on each request
        for signed in (first_urls[path], second_urls[path]):
            # A plain client: no AWS credentials, only the URL.
            fetched = httpx.get(signed, timeout=10)
            assert fetched.status_code == 200
            assert len(fetched.content) == entry["size"]
            assert hashlib.sha256(fetched.content).hexdigest() == entry["sha256"]
