"""Character registration: a validated portrait stored once, rendered many times.

The upload is read here (async), decoded and searched for a face in the validation
process pool (``producer_api.heavy``), then stored from a worker thread: nothing heavy
or blocking runs on the event loop.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from producer_api.auth import Tenant
from producer_api.errors import ERROR_RESPONSES, error_responses
from producer_api.heavy import check_portrait
from producer_api.paging import Cursor
from producer_api.portraits import MAX_PORTRAIT_BYTES
from producer_api.services import ApiServices, Services, replicated
from render_core import keys
from render_core.errors import ImageTooLarge
from render_core.schema import Character, CharacterView

router = APIRouter(prefix="/v1/characters", tags=["characters"], responses=ERROR_RESPONSES)

CHUNK = 1 << 16


async def _read_limited(upload: UploadFile) -> bytes:
    """Read at most the limit plus one chunk, so an oversized upload is refused early."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > MAX_PORTRAIT_BYTES:
            raise ImageTooLarge(f"the portrait is over {MAX_PORTRAIT_BYTES // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _store(services: ApiServices, character: Character, png: bytes) -> None:
    services.store.put_bytes(character.portrait_key, png, "image/png")
    services.characters.save(character)
    replicated(services)  # a render of it must not outlive a failover it did not


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a character portrait",
    description=(
        "Multipart upload, file field `portrait` (PNG, JPEG or WebP; at most 10 MB and "
        "4096 px a side; decoded completely and stored as RGB PNG), optional `name`. "
        "The portrait must show a face: the largest one is animated, and its box and "
        "crop are computed here, once."
    ),
    responses=error_responses(
        400,
        413,
        415,
        422,
        429,
        s413="Over the byte or pixel limits.",
        s415="Not a still PNG, JPEG or WebP image, or empty, or undecodable.",
        s422="No face found (`no_face_found`), or a form field breaks its rule.",
    ),
)
async def register_character(
    services: Services,
    tenant: Tenant,
    portrait: Annotated[
        UploadFile,
        File(description="The portrait image.", json_schema_extra={"format": "binary"}),
    ],
    name: Annotated[str | None, Form(max_length=200, description="A display name.")] = None,
) -> CharacterView:
    data = await _read_limited(portrait)
    checked = await services.heavy.run(check_portrait, data)
    character_id = uuid.uuid4().hex
    character = Character(
        id=character_id,
        tenant=tenant,
        name=name,
        width=checked.portrait.width,
        height=checked.portrait.height,
        portrait_key=keys.portrait_key(character_id),
        portrait_sha256=hashlib.sha256(checked.portrait.png).hexdigest(),
        face=checked.face,
    )
    await run_in_threadpool(_store, services, character, checked.portrait.png)
    return CharacterView.of(character)


class CharacterPage(BaseModel):
    characters: list[CharacterView]
    next_cursor: str | None


@router.get("", summary="List the tenant's characters, newest first")
def list_characters(
    services: Services,
    tenant: Tenant,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> CharacterPage:
    page = services.characters.list_page(tenant, limit, cursor)
    return CharacterPage(
        characters=[CharacterView.of(c) for c in page.characters], next_cursor=page.next_cursor
    )


@router.get("/{character_id}", summary="A registered character", responses=error_responses(404))
def get_character(services: Services, tenant: Tenant, character_id: str) -> CharacterView:
    return CharacterView.of(services.characters.get_for_tenant(tenant, character_id))
