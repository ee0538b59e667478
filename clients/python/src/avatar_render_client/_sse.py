"""A server-sent-events parser that takes bytes as they arrive (no I/O of its own).

It follows the WHATWG rules: lines end with CRLF, LF or CR (also split across chunks);
``:`` starts a comment; ``data:`` lines join with newlines; a message is dispatched at
an empty line and only when it has data; ``id:`` sets the last event id (kept across
messages); ``retry:`` (digits only) sets the reconnection delay. A message cut off by a
dropped connection is never dispatched.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseMessage:
    data: str
    #: The last event id at dispatch time (the spec's "last event ID buffer").
    id: str | None
    event: str


class SseParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self.last_id: str | None = None
        #: Milliseconds the server asked clients to wait before reconnecting.
        self.retry_ms: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> Iterator[SseMessage]:
        """The messages that ``chunk`` completes."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if text:
            if self._pending_cr and text.startswith("\n"):
                text = text[1:]  # the LF of a CRLF split across chunks
            self._pending_cr = False
        self._buffer += text
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return
            line, sep_len = self._buffer[:cut], 1
            if self._buffer[cut] == "\r":
                if cut + 1 == len(self._buffer):
                    self._pending_cr = True  # maybe a CRLF whose LF is in the next chunk
                elif self._buffer[cut + 1] == "\n":
                    sep_len = 2
            self._buffer = self._buffer[cut + sep_len :]
            message = self._line(line)
            if message is not None:
                yield message

    def _line(self, line: str) -> SseMessage | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "event":
            self._event = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseMessage | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseMessage(data="\n".join(data), id=self.last_id, event=event or "message")


def _line_end(text: str) -> int | None:
    """Index of the first CR or LF in ``text``."""
    positions = [i for i in (text.find("\r"), text.find("\n")) if i >= 0]
    return min(positions) if positions else None
