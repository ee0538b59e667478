"""Bearer API keys: each key belongs to one tenant, and a tenant sees only its own things."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from producer_api.services import Services
from render_core.errors import Unauthorized

LOCAL_TENANT = "local"


def _tenant_for(key: str, tenants_by_key: dict[str, str]) -> str | None:
    # Compare against every key in constant time, so timing says nothing about near misses.
    found = None
    for known, tenant in tenants_by_key.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = tenant
    return found


def current_tenant(request: Request, services: Services) -> str:
    settings = services.settings
    if not settings.auth_enabled:
        return LOCAL_TENANT
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send Authorization: Bearer <api key>")
    tenant = _tenant_for(key.strip(), settings.tenants_by_key)
    if tenant is None:
        raise Unauthorized("unknown API key")
    return tenant


Tenant = Annotated[str, Depends(current_tenant)]
