"""Which webhook URLs we will call: the guard against server-side request forgery.

A tenant names a URL and our servers POST to it, so the URL could aim at our own
network (Redis, a cloud metadata service at 169.254.169.254, an admin port on loopback).
Only https is accepted (http when allowed), and the host must resolve to public
addresses only. The check runs at registration and again before every delivery, and the
delivery connects to the address that was checked, so a DNS answer that changes in
between (rebinding) cannot slip through. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from render_core.errors import InvalidInput

MAX_URL_LENGTH = 2048
NAT64 = ipaddress.ip_network("64:ff9b::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (tests pass their own).
Resolver = Callable[[str, int], Sequence[str]]


class WebhookUrlRefused(InvalidInput):
    """The URL is malformed, not https, or its host is not on the public internet."""

    code = "webhook_url_refused"
    http_status = 422


@dataclass(frozen=True)
class WebhookTarget:
    """A parsed URL: where to connect and what to say in Host and TLS SNI."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        """The same URL with the host replaced by one checked address."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse_webhook_url(url: str, allow_http: bool) -> WebhookTarget:
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlRefused(f"not a URL: {exc}") from exc
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        raise WebhookUrlRefused(f"the URL must start with {' or '.join(allowed)}://")
    if not parts.hostname:
        raise WebhookUrlRefused("the URL names no host")
    if parts.username or parts.password:
        raise WebhookUrlRefused("the URL must not carry credentials")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """Global unicast only: no private, loopback, link-local, shared, reserved or multicast."""
    ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None and not is_public(str(inner)):
            return False
    return ip.is_global and not ip.is_multicast


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookUrlRefused(f"the host {host} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(
    target: WebhookTarget, allow_private: bool, resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses to connect to; refused unless every one is public (or allowed)."""
    addresses = list(resolver(target.host, target.port))
    if not addresses:
        raise WebhookUrlRefused(f"the host {target.host} resolves to no address")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise WebhookUrlRefused(
                f"the host {target.host} resolves to a non-public address ({refused[0]}); "
                "webhooks go to public internet addresses only"
            )
    return addresses


def check_webhook_url(
    url: str, allow_http: bool, allow_private: bool, resolver: Resolver = system_resolver
) -> tuple[WebhookTarget, list[str]]:
    """Parse and resolve ``url``; WebhookUrlRefused says why it will not be called."""
    target = parse_webhook_url(url, allow_http)
    return target, checked_addresses(target, allow_private, resolver)
