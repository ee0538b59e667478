"""How many messages wait in a render queue, read straight from the Redis broker.

kombu's Redis transport keeps a queue as a list named after it, plus one list per
priority step (``name`` + ``\\x06\\x16`` + step) for messages sent with a priority; the
depth is the sum of their lengths, the same sum kombu itself reports. Messages a worker
has reserved (the one it renders, retries waiting for their countdown) are not waiting.
"""

from __future__ import annotations

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel


def broker_keys(queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s messages, one per priority step."""
    return [f"{queue}{Channel.sep}{step}" if step else queue for step in PRIORITY_STEPS]


def queue_depths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue, read in one round trip."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for key in broker_keys(queue):
            pipe.llen(key)
    lengths = [int(n) for n in pipe.execute()]
    steps = len(PRIORITY_STEPS)
    return {queue: sum(lengths[i * steps : (i + 1) * steps]) for i, queue in enumerate(queues)}
