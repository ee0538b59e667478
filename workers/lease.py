"""Hold an attempt's lease while it renders: a thread refreshes it, the end releases it."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

import redis

from render_core.heartbeats import LEASE_TTL_S, hold_lease, release_lease

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, client: redis.Redis, token: str, ttl_s: int = LEASE_TTL_S) -> None:
        self.client = client
        self.token = token
        self.ttl_s = ttl_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="lease", daemon=True)

    def _refresh(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                hold_lease(self.client, self.token, self.ttl_s)
            except redis.RedisError as exc:
                log.warning("could not refresh lease %s: %s", self.token, exc)

    def __enter__(self) -> LeaseKeeper:
        hold_lease(self.client, self.token, self.ttl_s)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            release_lease(self.client, self.token)
        except redis.RedisError as error:
            log.warning("could not release lease %s: %s", self.token, error)
