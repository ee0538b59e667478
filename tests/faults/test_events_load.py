"""1,000 jobs through the whole push path: two mock workers, the API, the dispatcher, a
webhook receiver and an SSE client, all real processes or sockets on loopback.

Every terminal event reaches the webhook at least once, signed; the tenant's SSE stream
carries every event of the run exactly once, in the log's order."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from benchmarks.local_stack import UNCACHED_JOB
from render_cli.local_redis import LocalRedis
from render_cli.processes import wait_until
from render_core.event_log import as_entries, parse_entry, stream_key
from tests.sse import Message, messages
from tests.stack import register_portrait, running_stack
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# 1,000 uncached renders, not one render and 999 cache hits: every job's events are the load.
JOBS = 1000
TERMINAL = ["render.succeeded", "render.failed", "render.cancelled"]


class SseCollector(threading.Thread):
    """Reads the tenant's stream until it has seen ``expected`` terminal events."""

    def __init__(self, api_url: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.api_url = api_url
        self.expected = expected
        self.seen: list[Message] = []
        self.connected = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            timeout = httpx.Timeout(30.0, read=60.0)
            with (
                httpx.Client(base_url=self.api_url, timeout=timeout) as client,
                client.stream("GET", "/v1/events") as response,
            ):
                self.connected.set()
                terminal = 0
                for message in messages(response):
                    self.seen.append(message)
                    terminal += message.type in TERMINAL
                    if terminal == self.expected:
                        return
        except BaseException as exc:  # surfaced by the test
            self.error = exc
            self.connected.set()


def test_a_thousand_jobs_every_terminal_event_pushed(tmp_path: Path) -> None:
    started = time.monotonic()
    with (
        LocalRedis(data_dir=tmp_path / "redis") as server,
        running_stack(
            server.url,
            tmp_path,
            log_json="false",
            webhook_allow_http="true",
            webhook_allow_private_urls="true",
            webhook_backoff_s="0.2",
            webhook_backoff_max_s="2",
            tenant_rate="10000/s",  # ten batches of 100 back to back
        ) as stack,
        Receiver() as receiver,
    ):
        stack.start_worker("load1", "--loglevel", "WARNING")
        stack.start_worker("load2", "--loglevel", "WARNING")
        stack.start_api()
        stack.start_dispatcher()
        with httpx.Client(base_url=stack.api_url, timeout=60.0) as client:
            hook = client.post("/v1/webhooks", json={"url": receiver.url, "events": TERMINAL})
            assert hook.status_code == 201
            secret = hook.json()["secret"]
            character = register_portrait(client)
            sse = SseCollector(stack.api_url, JOBS)
            sse.start()
            assert sse.connected.wait(30) and sse.error is None
            ids: list[str] = []
            body: dict[str, Any] = {"character_id": character["id"], **UNCACHED_JOB}
            for _ in range(JOBS // 100):
                batch = client.post("/v1/renders/batch", json={"requests": [body] * 100})
                assert batch.status_code == 202, batch.text
                ids += [job["id"] for job in batch.json()["jobs"]]
        sse.join(timeout=600)
        assert sse.error is None and not sse.is_alive(), "the SSE stream did not finish"
        log = redis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
        events = [parse_entry(i, f) for i, f in as_entries(log.xrange(stream_key("local")))]
        terminal = {e.id for e in events if e.type in TERMINAL}
        assert len(terminal) == JOBS
        wait_until(lambda: terminal <= receiver.delivered_ids(), 300, "every terminal webhook")
        received = receiver.all()
        log.close()
    # SSE: the run's events exactly once, in the log's order (the stream began before them).
    ours = [e for e in events if e.render_id in set(ids)]
    assert [m.id for m in sse.seen] == [e.id for e in ours]
    assert len({m.id for m in sse.seen}) == len(sse.seen)
    by_job: dict[str, list[str]] = {}
    for message in sse.seen:
        by_job.setdefault(message.data["render_id"], []).append(message.type)
    assert all(types[0] == "render.queued" and types[-1] in TERMINAL for types in by_job.values())
    assert sum(t[-1] == "render.succeeded" for t in by_job.values()) == JOBS
    # Webhooks: each terminal event at least once, every request signed and verified.
    assert {r.id for r in received} == terminal
    for request in received:
        assert request.verify(secret)["id"] == request.id
    print(f"1,000 jobs pushed in {time.monotonic() - started:.0f} s")  # noqa: T201
