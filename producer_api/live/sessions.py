"""Live (WHEP) sessions of one process: peer connections, their limit, and their end.

A session is a peer connection sending one ``RenderTrack``. It ends after the track's
last frame (a second later, so the last packets leave), when the peer goes away (ICE
consent lost, DTLS closed), when it does not connect in time, or on ``DELETE``. Sessions
are named in Redis, so a ``DELETE`` that a load balancer sends to another process still
ends them: that process checks the tenant and publishes the id, and the owner closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from redis.exceptions import RedisError

from producer_api.event_stream import EventReader
from producer_api.live.feed import FrameFeed
from producer_api.live.ice import announce, rtc_configuration, use_udp_ports
from producer_api.live.offers import InvalidOffer, check_offer
from producer_api.live.track import RenderTrack
from render_core.errors import NotFound, QueueUnavailable, RenderServiceError
from render_core.records import PREFIX
from render_core.schema import JobRecord
from render_core.settings import Settings
from render_core.storage import ObjectStore

log = logging.getLogger(__name__)

CLOSE_CHANNEL = f"{PREFIX}:live:close"
END_GRACE_S = 1.0  # after the last frame, before the connection closes
CONNECT_TIMEOUT_S = 30.0
MAX_SESSION_S = 3600.0
RETRY_AFTER_S = 5


class TooManySessions(RenderServiceError):
    """This process holds RENDER_WEBRTC_MAX_SESSIONS sessions; another may have room."""

    code = "too_many_sessions"
    http_status = 503
    retry_after_s = RETRY_AFTER_S


def session_key(session_id: str) -> str:
    return f"{PREFIX}:live:session:{session_id}"


@dataclass
class Session:
    id: str
    tenant: str
    render_id: str
    pc: RTCPeerConnection
    feed: FrameFeed
    track: RenderTrack
    closing: bool = False
    deadline: asyncio.Task[None] | None = None


class LiveSessions:
    """The sessions this process holds, at most ``settings.webrtc_max_sessions``."""

    def __init__(
        self, settings: Settings, store: ObjectStore, reader: EventReader, client: aredis.Redis
    ) -> None:
        self.settings = settings
        self.store = store
        self.reader = reader
        self.redis = client
        self.sessions: dict[str, Session] = {}
        self._opening = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` in the background, holding a reference until it is done."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def open(self, record: JobRecord, after: str, offer_sdp: str) -> tuple[str, str]:
        """Answer ``offer_sdp`` with a session playing ``record``'s frames; (id, answer)."""
        if len(self.sessions) + self._opening >= self.settings.webrtc_max_sessions:
            raise TooManySessions(
                f"this server holds {self.settings.webrtc_max_sessions} live sessions; "
                f"retry in {RETRY_AFTER_S} s"
            )
        check_offer(offer_sdp)
        self._opening += 1
        try:
            return await self._open(record, after, offer_sdp)
        finally:
            self._opening -= 1

    async def _open(self, record: JobRecord, after: str, offer_sdp: str) -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        if self.settings.udp_port_range is not None:
            use_udp_ports(loop, *self.settings.udp_port_range)
        self._listen()
        pc = RTCPeerConnection(rtc_configuration(self.settings))
        block_ms = int(min(5.0, self.settings.events_keepalive_s) * 1000)
        feed = FrameFeed(self.reader, record, after, block_ms)
        track = RenderTrack(feed, self.store, record.request.fps)
        session = Session(secrets.token_urlsafe(18), record.tenant, record.id, pc, feed, track)
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except (ValueError, InvalidStateError) as exc:
                raise InvalidOffer(f"the offer cannot be answered: {exc}") from exc
            pc.addTrack(track)
            await pc.setLocalDescription(await pc.createAnswer())
            await self._register(session)
        except BaseException:
            await pc.close()
            raise
        self.sessions[session.id] = session
        feed.start()
        self._watch(session)
        log.info("live session %s opened for render %s", session.id, record.id)
        answer = pc.localDescription.sdp
        return session.id, announce(answer, self.settings.webrtc_public_ip)

    def _watch(self, session: Session) -> None:
        @session.pc.on("connectionstatechange")
        def changed() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                self._spawn(self.close(session.id, "peer gone"), f"close-{session.id}")

        @session.track.on("ended")
        def ended() -> None:
            self._spawn(self._close_later(session.id), f"end-{session.id}")

        session.deadline = asyncio.create_task(self._deadlines(session))

    async def _close_later(self, session_id: str) -> None:
        await asyncio.sleep(END_GRACE_S)
        await self.close(session_id, "track ended")

    async def _deadlines(self, session: Session) -> None:
        """Close a session that never connects, or that outlives any clip's wait."""
        await asyncio.sleep(CONNECT_TIMEOUT_S)
        if session.pc.connectionState != "connected":
            await self.close(session.id, "did not connect")
            return
        await asyncio.sleep(max(0.0, MAX_SESSION_S - CONNECT_TIMEOUT_S))
        await self.close(session.id, "too old")

    async def close(self, session_id: str, why: str) -> None:
        session = self.sessions.get(session_id)
        if session is None or session.closing:
            return
        session.closing = True
        log.info("live session %s closing: %s", session_id, why)
        if session.deadline is not None and session.deadline is not asyncio.current_task():
            session.deadline.cancel()
        session.track.stop()
        await session.feed.stop()
        await session.pc.close()
        self.sessions.pop(session_id, None)
        with contextlib.suppress(RedisError):
            await self.redis.delete(session_key(session_id))

    async def delete(self, tenant: str, render_id: str, session_id: str) -> None:
        """End a session of ``tenant``'s render, held here or by another process."""
        local = self.sessions.get(session_id)
        if local is not None:
            if (local.tenant, local.render_id) != (tenant, render_id):
                raise NotFound(f"live session {session_id} not found")
            await self.close(session_id, "deleted")
            return
        try:
            raw = await self.redis.get(session_key(session_id))
            owner = json.loads(raw) if raw else None
            if owner is None or (owner["tenant"], owner["render_id"]) != (tenant, render_id):
                raise NotFound(f"live session {session_id} not found")
            await self.redis.publish(CLOSE_CHANNEL, session_id)
        except RedisError as exc:
            raise QueueUnavailable(f"live sessions unavailable: {exc}") from exc

    async def _register(self, session: Session) -> None:
        value = json.dumps({"tenant": session.tenant, "render_id": session.render_id})
        try:
            await self.redis.set(session_key(session.id), value, ex=int(MAX_SESSION_S) + 60)
        except RedisError as exc:
            raise QueueUnavailable(f"live sessions unavailable: {exc}") from exc

    def _listen(self) -> None:
        """Once per process: close sessions that a DELETE elsewhere asked to end."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._close_requests(), name="live-close")

    async def _close_requests(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CLOSE_CHANNEL)
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=5.0
                        )
                        if message is not None and message["data"] in self.sessions:
                            await self.close(str(message["data"]), "deleted elsewhere")
            except RedisError as exc:
                log.warning("live sessions: close requests unavailable: %s", exc)
                await asyncio.sleep(1.0)

    async def shutdown(self) -> None:
        """Close every session (the process is stopping)."""
        for session_id in list(self.sessions):
            await self.close(session_id, "server stopping")
        tasks = [*self._tasks, *([self._listener] if self._listener else [])]
        tasks += [s.deadline for s in self.sessions.values() if s.deadline is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RedisError):
            await self.redis.aclose()
