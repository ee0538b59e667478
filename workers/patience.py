"""Waiting out a short job-store outage (a Redis failover) before an attempt is claimed.

A delivery that cannot read or claim its job must not give up at once: Celery would
acknowledge the message and the job, still ``queued``, would wait for nobody. A failover
takes seconds, so the claim is tried again with backoff for up to ``PATIENCE_S``; after
that the error goes up (and the broker's visibility timeout brings the message back).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from render_core.errors import QueueUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
PATIENCE_S = 30.0
FIRST_DELAY_S = 0.2
LONGEST_DELAY_S = 5.0


def patiently(
    call: Callable[[], T],
    what: str,
    patience_s: float = PATIENCE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again while the job store does not answer, for ``patience_s``."""
    deadline = time.monotonic() + patience_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return call()
        except (QueueUnavailable, redis.RedisError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s: the job store did not answer (%s); again in %.1f s", what, exc, delay)
            sleep(delay)
            delay = min(delay * 2, LONGEST_DELAY_S)
