"""Every Redis connection the project makes, with explicit timeouts from the settings.

The job store, the event streams, the dispatcher, the workers' heartbeats, the health
probes and Celery's broker all connect through here, so none of them can wait forever
on a Redis that stopped answering without closing the connection (a partition, a frozen
host): a read gives up after ``RENDER_REDIS_SOCKET_TIMEOUT_S``, a connect after
``RENDER_REDIS_CONNECT_TIMEOUT_S``, an idle pooled connection is checked every
``RENDER_REDIS_HEALTH_CHECK_INTERVAL_S`` before use, and a command whose connection
failed or timed out is retried ``RENDER_REDIS_RETRIES`` times (with jittered backoff;
timeouts only with ``RENDER_REDIS_RETRY_ON_TIMEOUT``). A client whose reads block on
purpose (``XREAD BLOCK``) gets a socket timeout of its blocking time plus the setting.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from render_core.settings import Settings

RETRY_BACKOFF_BASE_S = 0.05
RETRY_BACKOFF_CAP_S = 1.0


def _retry_errors(settings: Settings) -> tuple[type[redis.RedisError], ...]:
    if settings.redis_retry_on_timeout:
        return (redis.ConnectionError, redis.TimeoutError)
    return (redis.ConnectionError,)


def client_options(settings: Settings, blocking_s: float = 0.0) -> dict[str, Any]:
    """Keyword arguments for a redis-py client (sync; the async client takes the same
    ones with its own ``Retry``). ``blocking_s``: the longest a command blocks on purpose."""
    backoff = ExponentialWithJitterBackoff(base=RETRY_BACKOFF_BASE_S, cap=RETRY_BACKOFF_CAP_S)
    return {
        "decode_responses": True,
        "socket_timeout": settings.redis_socket_timeout_s + blocking_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_keepalive": True,
        "health_check_interval": settings.redis_health_check_interval_s,
        "retry": Retry(backoff, settings.redis_retries, supported_errors=_retry_errors(settings)),
    }


def sync_redis(settings: Settings, blocking_s: float = 0.0) -> redis.Redis:
    """A client of the job store's Redis."""
    return redis.Redis.from_url(settings.redis_url, **client_options(settings, blocking_s))


def async_redis(settings: Settings, blocking_s: float = 0.0) -> aredis.Redis:
    """An asyncio client of the job store's Redis (event streams, the dispatcher)."""
    options = client_options(settings, blocking_s)
    backoff = ExponentialWithJitterBackoff(base=RETRY_BACKOFF_BASE_S, cap=RETRY_BACKOFF_CAP_S)
    options["retry"] = AsyncRetry(
        backoff, settings.redis_retries, supported_errors=_retry_errors(settings)
    )
    return aredis.Redis.from_url(settings.redis_url, **options)


def broker_url(settings: Settings) -> str:
    """Celery's broker URL (kombu's form)."""
    return settings.redis_url


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's Redis transport options: the same timeouts as every other client. kombu
    polls with ``BRPOP`` for a second at a time, well inside the socket timeout."""
    return {
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_keepalive": True,
        "health_check_interval": settings.redis_health_check_interval_s,
        "retry_on_timeout": settings.redis_retry_on_timeout,
    }
