"""One RENDER_REDIS_URL drives every client: a plain URL, or sentinels and a service."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from render_core.queue import make_celery
from render_core.redis_conn import broker_transport_options, broker_url, parse_sentinel_url
from render_core.settings import Settings

SENTINEL_URL = "sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2,sentinel-3:26380/avatar-render/2"


def test_a_sentinel_url_names_sentinels_service_db_and_password() -> None:
    target = parse_sentinel_url(SENTINEL_URL)
    assert target is not None
    assert target.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("sentinel-3", 26380)]
    assert (target.service, target.db, target.password) == ("avatar-render", 2, "s@cret")
    assert parse_sentinel_url("redis://127.0.0.1:6379/0") is None
    for bad in (
        "sentinel:///svc/0",
        "sentinel://h:1/",
        "sentinel://h:1/svc/x",
        "sentinel://h:1/a/1/2",
    ):
        with pytest.raises(ValueError, match="sentinel://host:port"):
            parse_sentinel_url(bad)


def test_the_broker_follows_the_same_sentinels_with_the_same_timeouts() -> None:
    settings = Settings(redis_url=SENTINEL_URL, redis_socket_timeout_s=4, redis_connect_timeout_s=1)
    assert broker_url(settings) == (
        "sentinel://:s%40cret@10.0.0.1:26379/2;sentinel://:s%40cret@10.0.0.2:26379/2;"
        "sentinel://:s%40cret@sentinel-3:26380/2"
    )
    options = make_celery(settings).conf.broker_transport_options
    assert options["master_name"] == "avatar-render"
    assert options["socket_timeout"] == 4 and options["socket_connect_timeout"] == 1
    assert options["sentinel_kwargs"] == {"socket_timeout": 4, "socket_connect_timeout": 1}
    assert options["visibility_timeout"] == settings.visibility_timeout_s
    plain = broker_transport_options(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert "master_name" not in plain


def test_submissions_wait_for_one_replica_behind_sentinels_by_default() -> None:
    assert Settings(redis_url=SENTINEL_URL).replicas_to_wait == 1
    assert Settings(redis_url="redis://127.0.0.1:6379/0").replicas_to_wait == 0
    assert Settings(redis_url=SENTINEL_URL, redis_wait_replicas=0).replicas_to_wait == 0
    with pytest.raises(ValidationError, match="shorter than RENDER_REDIS_SOCKET_TIMEOUT_S"):
        Settings(redis_url=SENTINEL_URL, redis_wait_timeout_ms=6000, redis_socket_timeout_s=5)
