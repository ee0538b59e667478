"""The render cache's keys: what makes two renders the same.

A cache key is a sha256 over two parts, kept apart because different processes know them:

- the *request key* (the API knows it): the tenant (each tenant has its own cache), the
  sha256 of the portrait's bytes (and its face crop) and of the driving video's, and the
  canonical request without what does not change the pixels (metadata, priority, the
  cache flag, and the ids, which the content hashes replace);
- the *renderer key* (a worker knows it): the renderer's name and version, the weights'
  fingerprint and the precision.

An entry is stored under the request key, one field per renderer key, so the same request
rendered by another renderer (new weights, fp32 instead of fp16) is a miss.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from render_core.manifest import RendererDescription
from render_core.schema import RenderRequest

KEY_VERSION = 1
NOT_PIXELS = {"metadata", "priority", "cache", "character_id", "driving_video_id"}


def _sha256(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_request(request: RenderRequest) -> dict[str, Any]:
    """The fields that decide the outputs, in one spelling (outputs in a fixed order)."""
    fields = request.model_dump(mode="json", exclude=NOT_PIXELS)
    fields["outputs"] = sorted(fields["outputs"])
    return fields


def request_key(tenant: str, inputs: dict[str, Any], request: RenderRequest) -> str:
    """``inputs``: the content of what the ids name (the portrait's sha256 and its face
    crop; the driving video's sha256 and crop), so two registrations of the same bytes
    share renders and a re-registered portrait with other bytes does not."""
    return _sha256(
        {
            "v": KEY_VERSION,
            "tenant": tenant,
            "inputs": inputs,
            "request": canonical_request(request),
        }
    )


def renderer_key(description: RendererDescription) -> str:
    return _sha256(
        {
            "name": description.name,
            "version": description.version,
            "weights": description.weights_fingerprint,
            "precision": description.precision,
        }
    )
