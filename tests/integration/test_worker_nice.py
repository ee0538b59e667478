"""RENDER_WORKER_NICE: the worker and the pool child that renders run at the lower priority."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from render_cli.local_redis import LocalRedis
from tests.stack import running_stack

pytestmark = pytest.mark.integration


def _nice(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # state is field 3 of stat(5); nice is field 19


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_the_worker_and_its_pool_run_niced(redis_server: LocalRedis, tmp_path: Path) -> None:
    own = os.nice(0)
    with running_stack(redis_server.url, tmp_path) as stack:
        worker = stack.start_worker("niced", worker_nice="7")
        plain = stack.start_worker("plain")
        pool = _children(worker.pid)
        assert pool, "the worker has no pool process"
        assert {_nice(pid) for pid in [worker.pid, *pool]} == {own + 7}
        assert _nice(plain.pid) == own
