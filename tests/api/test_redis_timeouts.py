"""No Redis client of the project can wait forever: against a Redis that accepts the
connection and then never answers (a partition, a frozen host), every client gives up
after the configured timeouts (fast tier: a listening socket nobody reads)."""

from __future__ import annotations

import ast
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatcher.main import build_dispatcher
from producer_api.app import create_app
from render_core.errors import QueueUnavailable
from render_core.queue import make_celery
from render_core.readiness import probe_worker
from render_core.settings import Settings
from tests.api.conftest import KEY_A

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["render_core", "producer_api", "workers", "dispatcher", "render_cli", "benchmarks"]
# The only places that may build a Redis client: the factory, and the dev tool that
# pings the redis-server it just started itself.
ALLOWED = {"render_core/redis_conn.py", "render_cli/local_redis.py"}
CONSTRUCTORS = {"Redis", "StrictRedis", "from_url", "Sentinel", "ConnectionPool"}


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP port that completes connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1000)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


@pytest.fixture
def settings(black_hole: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=black_hole,
        storage_url=(tmp_path / "storage").as_uri(),
        api_keys=f"t:{KEY_A}",
        redis_socket_timeout_s=0.3,
        redis_connect_timeout_s=0.3,
        redis_retries=1,
        events_keepalive_s=0.5,
    )


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; fail if it has not returned or raised after ``seconds``."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # the call is expected to give up with an error
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    assert time.monotonic() - started < seconds
    return outcome[0]


def test_no_module_builds_its_own_redis_client() -> None:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in CONSTRUCTORS and "redis" in ast.unparse(func).lower():
                        found.append(f"{relative}:{node.lineno} {ast.unparse(func)}")
    assert found == [], "build clients with render_core.redis_conn:\n" + "\n".join(found)


async def test_the_api_answers_503_not_never(settings: Settings) -> None:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    auth = {"Authorization": f"Bearer {KEY_A}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=auth) as c:
        started = time.monotonic()
        response = await c.get("/v1/renders/some-job")
        assert response.status_code == 503
        assert time.monotonic() - started < 3.0
        started = time.monotonic()
        with pytest.raises(QueueUnavailable):
            await app.state.events.head("t")  # the event streams' asyncio client
        assert time.monotonic() - started < 6.0  # its reads may block 0.5 s on purpose


def test_the_broker_worker_probe_and_dispatcher_give_up(settings: Settings) -> None:
    celery = make_celery(settings)
    sent = within(10.0, lambda: celery.send_task("avatar_render.render", args=["j"]))
    assert isinstance(sent, Exception), sent
    assert not within(3.0, lambda: probe_worker(settings, None)).alive
    dispatcher = build_dispatcher(settings, name="timeouts")
    options = dispatcher.redis.connection_pool.connection_kwargs
    assert options["socket_timeout"] == pytest.approx(1.0 + 0.3)  # its block, and the margin
    assert options["socket_connect_timeout"] == 0.3
