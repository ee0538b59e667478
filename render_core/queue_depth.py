"""How many messages wait in a render queue, read straight from the Redis broker.

kombu's Redis transport keeps a queue as a list named after it, plus one list per
priority step (``name`` + ``\\x06\\x16`` + step) for messages sent with a priority; the
depth is the sum of their lengths, the same sum kombu itself reports. Messages a worker
has reserved (the one it renders, retries waiting for their countdown) are not waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel


def broker_keys(queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s messages, one per priority step."""
    return [f"{queue}{Channel.sep}{step}" if step else queue for step in PRIORITY_STEPS]


def read_depths(pipe: redis.client.Pipeline, queues: list[str]) -> None:
    """Queue on ``pipe`` the reads of ``queue_depths``; ``depths_from`` takes their answers."""
    for queue in queues:
        for key in broker_keys(queue):
            pipe.llen(key)


def depths_from(answers: Iterator[Any], queues: list[str]) -> dict[str, int]:
    return {queue: sum(int(next(answers)) for _ in PRIORITY_STEPS) for queue in queues}


def queue_depths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue, read in one round trip."""
    pipe = client.pipeline(transaction=False)
    read_depths(pipe, queues)
    return depths_from(iter(pipe.execute()), queues)
