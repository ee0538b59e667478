"""How live sessions are reached: ICE servers, a fixed UDP port range, an announced address.

aioice (aiortc's ICE) binds each host candidate to a free port (port 0) and offers no
range; a container publishes a fixed range, so this process's event loop is given a
``create_datagram_endpoint`` that turns port 0 into the first free port of the range.
Behind NAT (a container's published ports, a cloud VM's public IP) the answer also
carries each host candidate at the announced address, as media servers' "announced IP"
settings do.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import weakref
from typing import Any
from urllib.parse import quote

from aiortc import RTCConfiguration, RTCIceServer

from render_core.settings import Settings

_PATCHED: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def rtc_configuration(settings: Settings) -> RTCConfiguration:
    """RENDER_ICE_SERVERS as aiortc takes them; none: host candidates only."""
    servers = [
        RTCIceServer(urls=s.url_list, username=s.username, credential=s.credential)
        for s in settings.ice_server_list
    ]
    return RTCConfiguration(iceServers=servers)


def link_headers(settings: Settings) -> list[str]:
    """WHEP's ``Link: <url>; rel="ice-server"`` for each configured server (RFC 9725)."""
    links = []
    for server in settings.ice_server_list:
        for url in server.url_list:
            link = f'<{url}>; rel="ice-server"'
            if server.username and server.credential:
                link += (
                    f'; username="{quote(server.username)}"; '
                    f'credential="{quote(server.credential)}"; credential-type="password"'
                )
            links.append(link)
    return links


def use_udp_ports(loop: asyncio.AbstractEventLoop, low: int, high: int) -> None:
    """Bind this loop's UDP sockets asked for on port 0 to a free port in [low, high]."""
    if loop in _PATCHED:
        return
    original = loop.create_datagram_endpoint
    ports = itertools.cycle(range(low, high + 1))

    async def create_datagram_endpoint(
        protocol_factory: Any, local_addr: tuple[str, int] | None = None, **kwargs: Any
    ) -> Any:
        if local_addr is None or local_addr[1] != 0:
            return await original(protocol_factory, local_addr=local_addr, **kwargs)
        for _ in range(high - low + 1):
            try:
                return await original(
                    protocol_factory, local_addr=(local_addr[0], next(ports)), **kwargs
                )
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, f"no free UDP port in {low}-{high}")

    setattr(loop, "create_datagram_endpoint", create_datagram_endpoint)  # noqa: B010
    _PATCHED.add(loop)


def announce(sdp: str, address: str) -> str:
    """``sdp`` with each IPv4 host candidate also offered at ``address`` (same port)."""
    if not address:
        return sdp
    lines = sdp.split("\r\n")
    out: list[str] = []
    for line in lines:
        out.append(line)
        parts = line.split()
        if (
            line.startswith("a=candidate:")
            and len(parts) >= 8
            and parts[7] == "host"
            and ":" not in parts[4]
            and parts[4] != address
        ):
            foundation = parts[0].removeprefix("a=candidate:")
            parts[0] = f"a=candidate:{foundation}a"
            parts[4] = address
            out.append(" ".join(parts))
    return "\r\n".join(out)
