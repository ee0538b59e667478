"""Role code (API, worker, LivePortrait) is imported only by the command that needs it.

The package is installed everywhere, but a node may lack the API or GPU extras; such a
node should get a sentence naming the extra to install, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer


@contextmanager
def needs_extra(extra: str) -> Iterator[None]:
    """Wrap a role's import: a missing dependency exits 2 naming ``avatar-render[extra]``."""
    try:
        yield
    except ImportError as exc:
        typer.secho(
            f"this command needs the {extra} role ({exc}); install it: "
            f"pip install 'avatar-render[{extra}]'",
            fg="red",
            err=True,
        )
        raise typer.Exit(2) from exc
