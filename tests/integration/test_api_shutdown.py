"""The API leaves no process behind on SIGTERM: its upload-checking pool and the fork
server that starts the pool's processes end with it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from render_cli.local_redis import LocalRedis
from render_cli.processes import wait_until
from tests.stack import register_portrait, running_stack

pytestmark = pytest.mark.integration


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _members(group: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_sigterm_ends_the_api_and_its_pool(redis_server: LocalRedis, tmp_path: Path) -> None:
    with running_stack(redis_server.url, tmp_path) as stack:
        stack.start_worker("shutdown-mock")
        api = stack.start_api()
        with httpx.Client(base_url=stack.api_url, timeout=60) as client:
            register_portrait(client)  # starts the pool (a fork server and its child)
        assert len(_members(api.pid)) >= 3, _members(api.pid)
        os.kill(api.pid, signal.SIGTERM)  # the API alone, not its group
        api.process.wait(timeout=30)  # reaped: what is left of the group is the rest
        try:
            wait_until(lambda: not _group_alive(api.pid), 30, "the API's processes ending")
        except TimeoutError:
            pytest.fail(f"left behind: {_members(api.pid)}")
