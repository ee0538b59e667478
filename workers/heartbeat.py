"""The worker main process's background thread: heartbeat, and the reaper under a lock.

It runs in the Celery main process (started on ``worker_ready``), never in a pool
child, so a busy or hung child cannot stop it and a fork does not copy it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import redis

from render_core.heartbeats import WorkerBeat, beat, forget_worker

log = logging.getLogger(__name__)

BEAT_INTERVAL_S = 5.0


class HeartbeatThread(threading.Thread):
    """Beat every few seconds; after each beat run ``after_beat`` (the reaper)."""

    def __init__(
        self,
        client: redis.Redis,
        hostname: str,
        renderer: str,
        queues: list[str],
        after_beat: Callable[[], None] | None = None,
        interval_s: float = BEAT_INTERVAL_S,
        concurrency: int = 1,
    ) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.client = client
        self.hostname = hostname
        self.renderer = renderer
        self.queues = queues
        self.after_beat = after_beat
        self.interval_s = interval_s
        self.concurrency = concurrency
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                heartbeat = WorkerBeat(
                    hostname=self.hostname,
                    renderer=self.renderer,
                    queues=self.queues,
                    pid=os.getpid(),
                    concurrency=self.concurrency,
                )
                beat(self.client, heartbeat)
                if self.after_beat is not None:
                    self.after_beat()
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            except Exception:  # the thread must outlive any one bad round
                log.exception("heartbeat round failed")
            self.stopped.wait(self.interval_s)

    def stop(self) -> None:
        self.stopped.set()
        try:
            forget_worker(self.client, self.hostname, self.queues)
        except redis.RedisError:
            log.warning("could not remove the heartbeat of %s", self.hostname)
