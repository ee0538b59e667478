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

``RENDER_REDIS_URL`` is a plain ``redis://`` URL, or ``sentinel://[:password@]host:port
[,host:port...]/service[/db]``: the sentinels are asked for the service's primary, by the
job store's clients (``redis.sentinel``) and by Celery's broker (kombu's ``sentinel://``
transport with ``master_name``), and both follow a failover without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, unquote, urlsplit

import redis
import redis.asyncio as aredis
import redis.asyncio.sentinel as asentinel
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from render_core.settings import Settings

RETRY_BACKOFF_BASE_S = 0.05
RETRY_BACKOFF_CAP_S = 1.0


SENTINEL_SCHEME = "sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    """What a ``sentinel://`` URL names: the sentinels, the service (master name), the
    database and the primary's password (the sentinels are asked without one)."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int
    password: str | None


def parse_sentinel_url(url: str) -> SentinelTarget | None:
    """None for a plain Redis URL; ValueError for a malformed sentinel one."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    credentials, _, hosts = parts.netloc.rpartition("@")
    password = unquote(credentials.partition(":")[2]) or None if credentials else None
    sentinels = []
    for host_port in filter(None, hosts.split(",")):
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
        sentinels.append((host, int(port) if port else DEFAULT_SENTINEL_PORT))
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not 1 <= len(path) <= 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError(
            f"RENDER_REDIS_URL {url!r}: a sentinel URL is sentinel://host:port[,host:port]"
            "/service_name[/db]"
        )
    return SentinelTarget(sentinels, path[0], int(path[1]) if len(path) == 2 else 0, password)


def _sentinel_options(settings: Settings) -> dict[str, Any]:
    """How the sentinels themselves are asked: the same timeouts."""
    return {
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
    }


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
    """A client of the job store's Redis (its primary, when behind sentinels)."""
    options = client_options(settings, blocking_s)
    target = parse_sentinel_url(settings.redis_url)
    if target is None:
        return redis.Redis.from_url(settings.redis_url, **options)
    sentinels = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        target.sentinels, sentinel_kwargs=_sentinel_options(settings), **_sentinel_options(settings)
    )
    primary = sentinels.master_for(  # type: ignore[no-untyped-call]
        target.service, db=target.db, password=target.password, **options
    )
    return cast("redis.Redis", primary)


def async_redis(settings: Settings, blocking_s: float = 0.0) -> aredis.Redis:
    """An asyncio client of the job store's Redis (event streams, the dispatcher)."""
    options = client_options(settings, blocking_s)
    backoff = ExponentialWithJitterBackoff(base=RETRY_BACKOFF_BASE_S, cap=RETRY_BACKOFF_CAP_S)
    options["retry"] = AsyncRetry(
        backoff, settings.redis_retries, supported_errors=_retry_errors(settings)
    )
    target = parse_sentinel_url(settings.redis_url)
    if target is None:
        return aredis.Redis.from_url(settings.redis_url, **options)
    sentinels = asentinel.Sentinel(  # type: ignore[no-untyped-call]
        target.sentinels, sentinel_kwargs=_sentinel_options(settings), **_sentinel_options(settings)
    )
    primary = sentinels.master_for(
        target.service, db=target.db, password=target.password, **options
    )
    return cast("aredis.Redis", primary)


def broker_url(settings: Settings) -> str:
    """Celery's broker URL, in kombu's form (``sentinel://h:p/db;sentinel://...``)."""
    target = parse_sentinel_url(settings.redis_url)
    if target is None:
        return settings.redis_url
    auth = f":{quote(target.password, safe='')}@" if target.password else ""
    return ";".join(f"sentinel://{auth}{h}:{p}/{target.db}" for h, p in target.sentinels)


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's Redis transport options: the same timeouts as every other client. kombu
    polls with ``BRPOP`` for a second at a time, well inside the socket timeout."""
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_keepalive": True,
        "health_check_interval": settings.redis_health_check_interval_s,
        "retry_on_timeout": settings.redis_retry_on_timeout,
    }
    target = parse_sentinel_url(settings.redis_url)
    if target is not None:
        options["master_name"] = target.service
        options["sentinel_kwargs"] = _sentinel_options(settings)
    return options
