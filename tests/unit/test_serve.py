"""How the API is served: several uvicorn processes share one listening socket."""

from __future__ import annotations

import socket

import pytest
from uvicorn import Config

from producer_api import serve


def test_several_workers_share_a_listening_socket_without_nagle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connections accepted from it inherit TCP_NODELAY (asyncio sets it only on sockets
    opened with the TCP protocol number, which uvicorn's shared socket is not)."""
    shared: list[socket.socket] = []

    class Supervisor:
        def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
            assert config.workers == 2
            shared.extend(sockets)

        def run(self) -> None:
            pass

    monkeypatch.setattr(serve, "Multiprocess", Supervisor)
    serve.run_api("127.0.0.1", 0, workers=2)
    (listening,) = shared
    with listening:
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
