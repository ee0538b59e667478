"""Which workers consume which queues, and the answer of ``worker --check``."""

from __future__ import annotations

from render_core.heartbeats import WorkerBeat
from render_core.readiness import check_worker, consumers_by_queue, node_name

QUEUES = ["render.interactive", "render.batch"]


def _beat(hostname: str, queues: list[str]) -> WorkerBeat:
    return WorkerBeat(hostname=hostname, renderer="mock", queues=queues, pid=1)


def test_consumers_by_queue_lists_every_queue_even_without_workers() -> None:
    workers = [_beat("gpu0@a", QUEUES), _beat("batch@b", ["render.batch"])]
    assert consumers_by_queue(workers, QUEUES) == {
        "render.interactive": ["gpu0@a"],
        "render.batch": ["gpu0@a", "batch@b"],
    }
    assert consumers_by_queue([], QUEUES) == {queue: [] for queue in QUEUES}


def test_node_name_is_the_part_before_the_host() -> None:
    assert node_name("gpu0@host-1") == "gpu0"
    assert node_name("plain") == "plain"


def test_check_worker_by_node_name_full_hostname_or_any() -> None:
    workers = [_beat("gpu0@host-1", QUEUES)]
    assert check_worker(workers, None).alive
    assert check_worker(workers, "gpu0").alive
    assert check_worker(workers, "gpu0@host-1").alive
    missing = check_worker(workers, "gpu1")
    assert not missing.alive and "gpu0@host-1" in missing.reason
    assert not check_worker([], None).alive
