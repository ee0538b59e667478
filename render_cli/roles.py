"""Role code (API, worker, LivePortrait) is imported only by the command that needs it.

``render_core`` is installed everywhere; the API or GPU extras may not be, and a node
without them should get a clear sentence instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import typer

EXTRA_FOR_MODULE = {
    "producer_api": "api",
    "workers": "worker",
    "workers.renderers.liveportrait": "gpu",
}


def load_role(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = next(
            (e for prefix, e in sorted(EXTRA_FOR_MODULE.items()) if module.startswith(prefix)),
            "worker",
        )
        typer.secho(
            f"{module} cannot be imported ({exc}); install the role: "
            f"pip install 'avatar-render[{extra}]'",
            fg="red",
            err=True,
        )
        raise typer.Exit(2) from exc
