"""Per-tenant limits: how many jobs a tenant may have waiting or running, how fast it may
submit, and its share of the workers when several tenants wait.

They come from one setting, ``RENDER_TENANT_LIMITS``, written the way an operator thinks
of them (``alpha:queued=200,rate=20/s,weight=2;beta:queued=50``); a tenant not named there
gets the defaults ``RENDER_TENANT_MAX_QUEUED`` and ``RENDER_TENANT_RATE`` and weight 1.
Parsing happens once, when the settings are read, so a typo stops the process at start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The largest batch the API accepts: a bucket must hold at least this many tokens, or a
# valid batch could never pass.
LARGEST_BATCH = 100
RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
RATE_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)/(s|m|h)$")
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class Rate:
    """A token bucket: ``per_s`` tokens a second, holding at most ``burst``."""

    per_s: float
    burst: float

    @classmethod
    def parse(cls, text: str, burst: float | None = None) -> Rate:
        """``20/s``, ``600/m`` or ``10000/h``; the burst defaults to one second's worth,
        but never less than the largest batch."""
        match = RATE_PATTERN.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a rate like 20/s, 600/m or 10000/h")
        per_s = float(match.group(1)) / RATE_UNITS[match.group(2)]
        if per_s <= 0:
            raise ValueError(f"rate {text!r} must be above zero")
        chosen = float(max(per_s, LARGEST_BATCH)) if burst is None else burst
        if chosen < LARGEST_BATCH:
            raise ValueError(f"burst {chosen:g} is below the largest batch ({LARGEST_BATCH})")
        return cls(per_s=per_s, burst=chosen)


@dataclass(frozen=True)
class TenantLimits:
    queued: int
    rate: Rate
    weight: float = 1.0


def _field(tenant: str, item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not value:
        raise ValueError(f"tenant {tenant}: {item!r} is not name=value")
    return name.strip(), value.strip()


def _tenant_limits(tenant: str, fields: str, defaults: TenantLimits) -> TenantLimits:
    values = dict(_field(tenant, item) for item in fields.split(",") if item.strip())
    unknown = set(values) - {"queued", "rate", "burst", "weight"}
    if unknown:
        raise ValueError(f"tenant {tenant}: unknown limits {sorted(unknown)}")
    queued = int(values.get("queued", defaults.queued))
    weight = float(values.get("weight", defaults.weight))
    if queued < 1 or weight <= 0:
        raise ValueError(f"tenant {tenant}: queued must be >= 1 and weight > 0")
    burst = float(values["burst"]) if "burst" in values else None
    rate_text = values.get("rate")
    if rate_text is None:
        rate = defaults.rate if burst is None else Rate.parse(f"{defaults.rate.per_s}/s", burst)
    else:
        rate = Rate.parse(rate_text, burst)
    return TenantLimits(queued=queued, rate=rate, weight=weight)


def parse_tenant_limits(text: str, defaults: TenantLimits) -> dict[str, TenantLimits]:
    """``tenant:name=value,...;tenant:...`` to limits per tenant (the defaults fill gaps)."""
    limits: dict[str, TenantLimits] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        tenant, sep, fields = entry.partition(":")
        tenant = tenant.strip()
        if not sep or not TENANT_PATTERN.match(tenant):
            raise ValueError(f"{entry!r} is not tenant:name=value,...")
        if tenant in limits:
            raise ValueError(f"tenant {tenant} is listed twice")
        limits[tenant] = _tenant_limits(tenant, fields, defaults)
    return limits
