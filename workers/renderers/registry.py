"""Renderer names to implementations, beside the implementations themselves.

The protocol (``workers.renderer``) imports no renderer; this registry imports only the
one a worker asks for, and only when it asks, so a mock worker never loads torch.
"""

from __future__ import annotations

from typing import Any

from render_core.settings import Settings
from render_core.storage import ObjectStore
from workers.renderer import Renderer


def load_renderer(settings: Settings, store: ObjectStore) -> Renderer[Any, Any]:
    """The renderer named by the settings; heavy imports happen only for the one chosen.
    ``store`` is the worker's object store, for renderers that cache in it."""
    if settings.renderer == "mock":
        from workers.renderers.mock import MockRenderer

        return MockRenderer(frame_delay_s=settings.mock_frame_delay_s, faults=settings.mock_faults)
    if settings.renderer == "liveportrait":
        from workers.renderers.liveportrait.renderer import LivePortraitRenderer

        return LivePortraitRenderer(settings, store)
    raise ValueError(f"renderer {settings.renderer!r} is not available in this build")
