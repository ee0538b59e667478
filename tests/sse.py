"""A small server-sent-events reader for tests: what a client library would do, no more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Message:
    """One SSE message (``data`` parsed as JSON), or a comment when ``comment`` is set."""

    id: str | None = None
    data: Any = None
    comment: str | None = None
    retry: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.data["type"]) if isinstance(self.data, dict) else ""


def messages(response: httpx.Response, comments: bool = False) -> Iterator[Message]:
    """Parse the stream line by line as the SSE spec says (data lines joined by newlines)."""
    current = Message()
    data_lines: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data_lines:
                current.data = json.loads("\n".join(data_lines))
                yield current
            current, data_lines = Message(), []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            if comments:
                yield Message(comment=value)
        elif name == "data":
            data_lines.append(value)
        elif name == "id":
            current.id = value
        elif name == "retry":
            current.retry = int(value)
        else:
            current.extra[name] = value
