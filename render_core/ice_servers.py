"""``RENDER_ICE_SERVERS``: the STUN and TURN servers live WebRTC sessions offer, as JSON in
the shape of WebRTC's ``RTCIceServer`` list, checked when the settings are read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, TypeAdapter


class IceServer(BaseModel):
    """One STUN or TURN server, in the shape of WebRTC's ``RTCIceServer``."""

    model_config = ConfigDict(extra="forbid")

    urls: str | list[str]
    username: str | None = None
    credential: str | None = None

    @property
    def url_list(self) -> list[str]:
        return [self.urls] if isinstance(self.urls, str) else list(self.urls)


_ICE_SERVERS = TypeAdapter(list[IceServer])


def parse_ice_servers(value: str) -> list[IceServer]:
    """The servers, or ``ValueError`` naming the URL that is not a STUN or TURN server's,
    or the TURN server that lacks credentials."""
    if not value.strip():
        return []
    servers = _ICE_SERVERS.validate_json(value)
    for server in servers:
        for url in server.url_list:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"RENDER_ICE_SERVERS: {url!r} is not a stun: or turn: URL")
            if url.startswith("turn") and not (server.username and server.credential):
                raise ValueError(f"RENDER_ICE_SERVERS: {url!r} needs username and credential")
    return servers
