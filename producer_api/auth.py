"""Bearer API keys: each key belongs to one tenant, and a tenant sees only its own things."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from producer_api.services import Services
from render_core.errors import Unauthorized

LOCAL_TENANT = "local"


def tenant_for_key(key: str, tenants_by_key: dict[str, str]) -> str | None:
    # Compare against every key in constant time, so timing says nothing about near misses.
    found = None
    for known, tenant in tenants_by_key.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = tenant
    return found


# Declares the scheme in the OpenAPI document for every route that needs a tenant; the
# checks and the error envelope stay ours (auto_error off).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key of one tenant: `Authorization: Bearer <key>`.",
)


async def current_tenant(
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    settings = services.settings
    if not settings.auth_enabled:
        return LOCAL_TENANT
    if credentials is None or not credentials.credentials:
        raise Unauthorized("send Authorization: Bearer <api key>")
    tenant = tenant_for_key(credentials.credentials.strip(), settings.tenants_by_key)
    if tenant is None:
        raise Unauthorized("unknown API key")
    return tenant


Tenant = Annotated[str, Depends(current_tenant)]


async def optional_tenant(services: Services, request: Request) -> str | None:
    """The caller's tenant when it sent a valid key (or auth is off); None otherwise. For
    routes open to everyone that say more to a known caller (``/readyz``); read from the
    header directly, so the route's document still says it needs no key."""
    settings = services.settings
    if not settings.auth_enabled:
        return LOCAL_TENANT
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return tenant_for_key(key.strip(), settings.tenants_by_key)


MaybeTenant = Annotated[str | None, Depends(optional_tenant)]
