"""A WHEP client on aiortc, as a viewer would be: offer, answer, receive until the end.

Used by the live tests and the time-to-first-frame benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


@dataclass
class Received:
    """Decoded frames (RGB) with the wall-clock time each was decoded."""

    frames: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    ended: bool = False  # the track ended (rather than the wait running out)


class WhepError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code}: {response.text}")
        self.response = response


class WhepViewer:
    """One session: ``await open()``, ``await receive()``, ``await close()``."""

    def __init__(self, api_url: str, key: str, job_id: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0
        )
        self.job_id = job_id
        self.pc = RTCPeerConnection()
        self.location: str | None = None
        self._track: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if not self._track.done():
                self._track.set_result(track)

    async def open(self) -> httpx.Response:
        """POST the offer; WhepError unless 201."""
        self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        response = await self.http.post(
            f"/v1/renders/{self.job_id}/whep",
            content=self.pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp"},
        )
        if response.status_code != 201:
            raise WhepError(response)
        self.location = response.headers["location"]
        answer = RTCSessionDescription(sdp=response.text, type="answer")
        await self.pc.setRemoteDescription(answer)
        return response

    async def receive(self, timeout_s: float = 60.0, limit: int | None = None) -> Received:
        """Frames until the track ends, ``limit`` frames, or ``timeout_s``."""
        got = Received()
        deadline = time.monotonic() + timeout_s
        track = await asyncio.wait_for(self._track, timeout_s)
        while limit is None or len(got.frames) < limit:
            try:
                frame = await asyncio.wait_for(track.recv(), deadline - time.monotonic())
            except MediaStreamError:
                got.ended = True
                break
            except TimeoutError:
                break
            got.frames.append(frame.to_ndarray(format="rgb24"))  # type: ignore[union-attr]
            got.times.append(time.time())
        return got

    async def delete(self) -> httpx.Response:
        assert self.location is not None
        return await self.http.delete(self.location)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pc.close()
        await self.http.aclose()


async def watch(api_url: str, key: str, job_id: str, timeout_s: float = 60.0) -> Received:
    """Open a session on ``job_id`` and receive until its track ends."""
    viewer = WhepViewer(api_url, key, job_id)
    try:
        await viewer.open()
        return await viewer.receive(timeout_s)
    finally:
        await viewer.close()
