"""Flower, the live view of the Celery cluster, on our broker and behind basic auth.

Flower runs in this process through Celery's own command line, on the app of
``make_celery(settings)``: the same broker URL and transport options as the API and
the workers, no second copy of them, and the password never appears in ``ps``.
Flower can revoke tasks and shut workers down, so it needs ``RENDER_FLOWER_BASIC_AUTH``
whenever the API has keys; only a local run (auth off) may leave it open.
"""

from __future__ import annotations

import importlib.util
import logging

from render_core.errors import ConfigurationError
from render_core.queue import make_celery
from render_core.settings import Settings

log = logging.getLogger(__name__)


def basic_auth_pairs(value: str) -> list[str]:
    """``user:password`` pairs, comma separated, as Flower's ``--basic-auth`` takes them."""
    pairs = [p.strip() for p in value.split(",") if p.strip()]
    for pair in pairs:
        user, sep, password = pair.partition(":")
        if not (user and sep and password):
            raise ConfigurationError(
                "RENDER_FLOWER_BASIC_AUTH must be user:password pairs separated by commas"
            )
    return pairs


def flower_argv(settings: Settings, address: str, port: int) -> list[str]:
    """The ``celery flower`` arguments; refuses to run Flower open when the API has keys."""
    argv = ["flower", f"--address={address}", f"--port={port}"]
    pairs = basic_auth_pairs(settings.flower_basic_auth)
    if pairs:
        return [*argv, f"--basic-auth={','.join(pairs)}"]
    if settings.auth_enabled:
        raise ConfigurationError(
            "RENDER_FLOWER_BASIC_AUTH (user:password) is required: the API has keys "
            "(RENDER_API_KEYS), and an open Flower could revoke jobs and stop workers"
        )
    log.warning(
        "FLOWER AUTH IS OFF: RENDER_FLOWER_BASIC_AUTH is empty and so is RENDER_API_KEYS. "
        "Use this for local runs only."
    )
    return argv


def run_flower(settings: Settings, address: str, port: int) -> int:
    """Serve Flower until it is stopped; the exit code of Celery's command line."""
    argv = flower_argv(settings, address, port)
    if importlib.util.find_spec("flower") is None:
        raise ConfigurationError("Flower is not installed: pip install 'avatar-render[ops]'")
    exit_code = make_celery(settings).start(argv)
    return int(exit_code or 0)
