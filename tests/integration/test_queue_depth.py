"""Queue depth read from Redis agrees with kombu's own count, priority sub-lists included."""

from __future__ import annotations

import pytest
import redis

from render_cli.local_redis import LocalRedis
from render_core.queue import RENDER_TASK, make_celery
from render_core.queue_depth import broker_keys, queue_depths
from render_core.settings import Settings

pytestmark = pytest.mark.integration

DEPTH_DB = 7
QUEUES = ["render.interactive", "render.batch"]


def test_depth_counts_plain_and_priority_messages(redis_server: LocalRedis) -> None:
    client = redis.Redis(port=redis_server.port, db=DEPTH_DB, decode_responses=True)
    client.flushdb()
    settings = Settings(redis_url=f"redis://127.0.0.1:{redis_server.port}/{DEPTH_DB}")
    app = make_celery(settings)
    try:
        app.send_task(RENDER_TASK, args=["job-a"], queue="render.batch")
        app.send_task(RENDER_TASK, args=["job-b"], queue="render.batch", priority=5)
        app.send_task(RENDER_TASK, args=["job-c"], queue="render.interactive")
        existing = {key for key in client.keys("render.*") if client.type(key) == "list"}
        assert existing <= {key for queue in QUEUES for key in broker_keys(queue)}
        assert "render.batch\x06\x163" in existing  # priority 5 falls in the step of 3
        depths = queue_depths(client, QUEUES)
        assert depths == {"render.interactive": 1, "render.batch": 2}
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            for queue in QUEUES:
                assert (
                    channel.queue_declare(queue=queue, passive=True).message_count == depths[queue]
                )
    finally:
        app.close()
        client.close()
