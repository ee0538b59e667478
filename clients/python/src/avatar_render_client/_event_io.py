"""The I/O of event streams: runs ``_event_stream.follow`` with httpx, blocking or async.

``EventStream`` and ``AsyncEventStream`` are what ``events()`` and ``render_events()``
return: iterators that open their connection on the first read, or at once as a
context manager (``with client.events() as stream``), so a caller can subscribe
before doing what it wants to hear about.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import TracebackType

import httpx

from avatar_render_client._event_stream import Close, Emit, Open, Read, StreamOp, StreamOutcome
from avatar_render_client._steps import Sleep
from avatar_render_client.events import Event


def _drive(http: httpx.Client, op: StreamOp) -> Generator[Event | None, None, None]:
    response: httpx.Response | None = None
    chunks: Iterator[bytes] = iter(())
    outcome: StreamOutcome = None
    try:
        while True:
            try:
                step = op.send(outcome)
            except StopIteration:
                return
            outcome = None
            if isinstance(step, Emit):
                yield step.event
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, Read):
                try:
                    outcome = next(chunks, b"")
                except httpx.TransportError as exc:
                    outcome = exc
            elif isinstance(step, Close):
                if response is not None:
                    response.close()
                response, chunks = None, iter(())
            elif isinstance(step, Open):
                try:
                    response = http.send(step.call.build(http), stream=True)
                    if response.status_code == 200:
                        chunks = response.iter_bytes()
                    else:
                        response.read()
                        response.close()
                    outcome = response
                except httpx.TransportError as exc:
                    outcome = exc
    finally:
        if response is not None:
            response.close()
        op.close()


async def _adrive(http: httpx.AsyncClient, op: StreamOp) -> AsyncGenerator[Event | None, None]:
    response: httpx.Response | None = None
    chunks: AsyncIterator[bytes] | None = None
    outcome: StreamOutcome = None
    try:
        while True:
            try:
                step = op.send(outcome)
            except StopIteration:
                return
            outcome = None
            if isinstance(step, Emit):
                yield step.event
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Read):
                try:
                    outcome = b"" if chunks is None else await anext(chunks, b"")
                except httpx.TransportError as exc:
                    outcome = exc
            elif isinstance(step, Close):
                if response is not None:
                    await response.aclose()
                response, chunks = None, None
            elif isinstance(step, Open):
                try:
                    response = await http.send(step.call.build(http), stream=True)
                    if response.status_code == 200:
                        chunks = response.aiter_bytes()
                    else:
                        await response.aread()
                        await response.aclose()
                    outcome = response
                except httpx.TransportError as exc:
                    outcome = exc
    finally:
        if response is not None:
            await response.aclose()
        op.close()


class EventStream(Iterator[Event]):
    """Events as they come, resuming by itself after a dropped connection. Iterate it
    (``for event in stream``); ``close()`` it, or use it as a context manager, which
    also connects on entry. ``last_event_id`` is the id of the last event handed out."""

    def __init__(self, http: httpx.Client, op: StreamOp, last_event_id: str | None) -> None:
        self._items = _drive(http, op)
        self._pending: deque[Event] = deque()
        self._connected = False
        self.last_event_id = last_event_id

    def connect(self) -> EventStream:
        """Open the connection now: events written from here on will be seen."""
        while not self._connected:
            item = next(self._items, _END)
            if isinstance(item, _End):
                break
            if item is None:
                self._connected = True
            else:
                self._pending.append(item)
        return self

    def __next__(self) -> Event:
        event = self._pending.popleft() if self._pending else self._next()
        self.last_event_id = event.id
        return event

    def _next(self) -> Event:
        while True:
            item = next(self._items)
            if item is not None:
                return item
            self._connected = True

    def close(self) -> None:
        self._items.close()

    def __enter__(self) -> EventStream:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncEventStream(AsyncIterator[Event]):
    """The asyncio twin of ``EventStream``: ``async for``, ``async with``, ``aclose()``."""

    def __init__(self, http: httpx.AsyncClient, op: StreamOp, last_event_id: str | None) -> None:
        self._items = _adrive(http, op)
        self._pending: deque[Event] = deque()
        self._connected = False
        self.last_event_id = last_event_id

    async def connect(self) -> AsyncEventStream:
        """Open the connection now: events written from here on will be seen."""
        while not self._connected:
            item = await anext(self._items, _END)
            if isinstance(item, _End):
                break
            if item is None:
                self._connected = True
            else:
                self._pending.append(item)
        return self

    async def __anext__(self) -> Event:
        event = self._pending.popleft() if self._pending else await self._next()
        self.last_event_id = event.id
        return event

    async def _next(self) -> Event:
        while True:
            item = await anext(self._items)
            if item is not None:
                return item
            self._connected = True

    async def aclose(self) -> None:
        await self._items.aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _End:
    """What ``connect()`` gets when a stream ended before it was open."""


_END = _End()
