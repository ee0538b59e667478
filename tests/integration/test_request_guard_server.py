"""Over a real socket to uvicorn: a stranger's huge body is answered 401 after a few
kilobytes, an oversized one 413, without the server waiting for (or reading) the rest."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from render_cli.local_redis import LocalRedis
from tests.conftest import STORE_TEST_DB
from tests.stack import Stack, running_stack

KEY = "guard-key"
SENT_BYTES = 64 * 1024
GIGABYTE = 1024 * 1024 * 1024


@pytest.fixture(scope="module")
def stack(redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = f"redis://127.0.0.1:{redis_server.port}/{STORE_TEST_DB}"
    root = tmp_path_factory.mktemp("guard")
    with running_stack(url, root, api_keys=f"t:{KEY}") as running:
        running.start_api(probe="/healthz")
        yield running


def answer_after_a_little(stack: Stack, path: str, headers: dict[str, str]) -> tuple[str, float]:
    """Announce a 1 GB body, send 64 KB of it, and read the status line the server sends."""
    host, port = stack.api_url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {GIGABYTE}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"{" * SENT_BYTES)
        status = conn.recv(4096).split(b"\r\n", 1)[0].decode()
    return status, time.perf_counter() - started


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/renders", "application/json"),
        ("/v1/driving-videos", "multipart/form-data; boundary=x"),
        ("/v1/characters", "multipart/form-data; boundary=x"),
    ],
)
def test_a_stranger_gets_401_after_64_kb_of_a_gigabyte(
    stack: Stack, tmp_path: Path, path: str, content_type: str
) -> None:
    status, elapsed = answer_after_a_little(stack, path, {"Content-Type": content_type})
    assert status.startswith("HTTP/1.1 401"), status
    assert elapsed < 2.0


def test_a_key_holder_gets_413_for_a_gigabyte_at_once(stack: Stack) -> None:
    for path in ("/v1/renders", "/v1/driving-videos"):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        status, elapsed = answer_after_a_little(stack, path, headers)
        assert status.startswith("HTTP/1.1 413"), status
        assert elapsed < 2.0
