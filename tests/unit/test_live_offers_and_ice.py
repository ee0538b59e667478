"""Live sessions' edges without a network: which offers are answered, ICE settings, the
announced address and the UDP port range."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection

from producer_api.live.ice import announce, link_headers, rtc_configuration, use_udp_ports
from producer_api.live.offers import InvalidOffer, check_offer
from render_core.settings import Settings

TURN = '[{"urls": ["stun:stun.example.com:3478", "turn:turn.example.com:3478"], "username": "u", "credential": "p w"}]'  # noqa: E501


async def _offer(kind: str = "video", direction: str = "recvonly") -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def test_a_browser_like_offer_passes_and_others_say_why() -> None:
    check_offer(asyncio.run(_offer()))
    with pytest.raises(InvalidOffer, match="not an SDP offer|no video"):
        check_offer("hello")
    with pytest.raises(InvalidOffer, match="no video section"):
        check_offer(asyncio.run(_offer("audio")))
    with pytest.raises(InvalidOffer, match="receive video"):
        check_offer(asyncio.run(_offer("video", "sendonly")))
    no_mux = asyncio.run(_offer()).replace("a=rtcp-mux\r\n", "")
    with pytest.raises(InvalidOffer, match="rtcp-mux"):
        check_offer(no_mux)


def test_ice_servers_reach_aiortc_and_the_link_headers() -> None:
    settings = Settings(ice_servers=TURN)
    (server,) = rtc_configuration(settings).iceServers or []
    assert server.urls == ["stun:stun.example.com:3478", "turn:turn.example.com:3478"]
    assert server.username == "u" and server.credential == "p w"
    links = link_headers(settings)
    assert links[0] == '<stun:stun.example.com:3478>; rel="ice-server"; username="u"; ' + (
        'credential="p%20w"; credential-type="password"'
    )
    assert rtc_configuration(Settings()).iceServers == []
    with pytest.raises(ValueError, match="username and credential"):
        Settings(ice_servers='[{"urls": "turn:t.example.com"}]')
    with pytest.raises(ValueError, match="stun: or turn:"):
        Settings(ice_servers='[{"urls": "http://x"}]')
    with pytest.raises(ValueError, match="MIN-MAX"):
        Settings(webrtc_udp_ports="40000")


def test_the_announced_address_is_offered_beside_each_host_candidate() -> None:
    sdp = "\r\n".join(
        [
            "v=0",
            "a=candidate:abc 1 udp 2130706431 172.18.0.5 40001 typ host",
            "a=candidate:def 1 udp 2130706431 fd00::2 40002 typ host",
            "a=candidate:ghi 1 udp 1694498815 198.51.100.7 40003 typ srflx raddr 0.0.0.0 rport 0",
            "",
        ]
    )
    out = announce(sdp, "203.0.113.9").split("\r\n")
    assert out[2] == "a=candidate:abca 1 udp 2130706431 203.0.113.9 40001 typ host"
    assert len(out) == len(sdp.split("\r\n")) + 1  # IPv6 and reflexive ones stay single
    assert announce(sdp, "") == sdp


def test_host_candidates_bind_inside_the_port_range() -> None:
    async def gathered_ports() -> list[int]:
        use_udp_ports(asyncio.get_running_loop(), 41000, 41009)
        pcs = [RTCPeerConnection() for _ in range(3)]
        ports = []
        for pc in pcs:
            pc.addTransceiver("video", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            for line in pc.localDescription.sdp.splitlines():
                if line.startswith("a=candidate:"):
                    ports.append(int(line.split()[5]))
        for pc in pcs:
            await pc.close()
        return ports

    ports = asyncio.run(gathered_ports())
    assert ports and all(41000 <= port <= 41009 for port in ports), ports
    assert len(set(ports)) == len(ports)
