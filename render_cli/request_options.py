"""Command-line options that take their bounds, defaults and help from the render request.

The schema is the one statement of what a request may hold; an option built here cannot
drift from it, and a value outside it is refused before anything is sent.
"""

from __future__ import annotations

from typing import Any, get_args

import annotated_types
import typer

from render_core.schema import RenderRequest


def schema_bounds(field: str) -> tuple[Any, Any]:
    """The ``ge`` and ``le`` bounds of a request field (None where it has none)."""
    low = high = None
    for rule in RenderRequest.model_fields[field].metadata:
        if isinstance(rule, annotated_types.Ge):
            low = rule.ge
        elif isinstance(rule, annotated_types.Le):
            high = rule.le
    return low, high


def request_option(field: str) -> Any:
    """A typer option for ``field``: the schema's range (or choices) and description."""
    info = RenderRequest.model_fields[field]
    choices = get_args(info.annotation)
    if choices:
        rule = " or ".join(str(choice) for choice in choices)
        return typer.Option(
            help=f"{info.description} {rule}.",
            callback=lambda value: _one_of(field, value, choices),
        )
    low, high = schema_bounds(field)
    return typer.Option(min=low, max=high, help=info.description)


def _one_of(field: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if value not in choices:
        allowed = ", ".join(str(choice) for choice in choices)
        raise typer.BadParameter(f"{field} must be one of {allowed}")
    return value


def request_default(field: str) -> Any:
    """The schema's default for ``field``, which the option shows and sends."""
    return RenderRequest.model_fields[field].get_default(call_default_factory=True)
