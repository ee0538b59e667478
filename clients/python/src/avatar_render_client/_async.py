"""The asyncio client: runs the shared operations of ``_core`` with httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, Unpack, cast

import httpx

from avatar_render_client._core import ClientCore, Upload
from avatar_render_client._event_io import AsyncEventStream
from avatar_render_client._event_stream import (
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_RECONNECT_FOR_S,
    render_events,
    tenant_events,
)
from avatar_render_client._retry import RetryPolicy
from avatar_render_client._steps import Call, Notify, Op, Outcome, Sleep, Step
from avatar_render_client._webhooks_api import AsyncWebhookMethods, WebhookOps
from avatar_render_client.events import EventType
from avatar_render_client.models import (
    Character,
    DownloadedOutputs,
    DrivingVideo,
    Emotion,
    Health,
    Job,
    JobPage,
    JobStatus,
    Manifest,
    Readiness,
    RenderOptions,
    RenderRequest,
)

T = TypeVar("T")


class AsyncAvatarRenderClient(AsyncWebhookMethods):
    """Asyncio client for the avatar-render HTTP API; the same methods as
    ``AvatarRenderClient``, awaited.

    ``base_url`` is the API's root (``http://host:8000``); ``api_key`` the tenant's key.
    ``transport`` replaces httpx's own (tests, proxies). Use it as a context manager, or
    ``await aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = ClientCore(base_url, api_key, retry)
        self._http = httpx.AsyncClient(transport=transport, **self._core.http_options(timeout_s))
        self._webhooks = WebhookOps(self._core)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAvatarRenderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- the I/O: the only part that differs from the async client ------------------

    async def _run(self, op: Op[T]) -> T:
        outcome: Outcome = None
        try:
            while True:
                outcome = await self._do(op.send(outcome))
        except StopIteration as done:
            return cast(T, done.value)
        finally:
            op.close()

    async def _do(self, step: Step) -> Outcome:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, Notify):
            result = step.callback(step.job)
            if inspect.isawaitable(result):
                await result
            return None
        return await self._send(step.call)

    async def _send(self, call: Call) -> httpx.Response | httpx.TransportError:
        try:
            response = await self._http.send(call.build(self._http), stream=True)
            try:
                if call.sink is not None and response.is_success:
                    call.sink.open()
                    async for chunk in response.aiter_bytes():
                        call.sink.write(chunk)
                else:
                    await response.aread()
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            return exc
        return response

    # --- characters and driving videos ----------------------------------------------

    async def register_character(
        self, portrait: Upload, name: str | None = None, *, filename: str | None = None
    ) -> Character:
        """Register a portrait (a path, bytes or a binary file) once; render it many times."""
        return await self._run(self._core.register_character(portrait, name, filename))

    async def get_character(self, character_id: str) -> Character:
        return await self._run(self._core.get_character(character_id))

    async def upload_driving_video(
        self, video: Upload, *, filename: str | None = None
    ) -> DrivingVideo:
        """Upload an mp4 or webm whose motion renders can follow (``driving_video_id``)."""
        return await self._run(self._core.upload_driving_video(video, filename))

    async def get_driving_video(self, video_id: str) -> DrivingVideo:
        return await self._run(self._core.get_driving_video(video_id))

    # --- renders ------------------------------------------------------------------------

    async def render(
        self,
        character_id: str,
        emotion: Emotion | str | None = None,
        *,
        driving_video_id: str | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[RenderOptions],
    ) -> Job:
        """Submit one clip: an ``emotion`` or a ``driving_video_id``; omitted options take
        the server's defaults. Safe to retry: one Idempotency-Key per call."""
        body = ClientCore.render_body(character_id, emotion, driving_video_id, options)
        return await self._run(self._core.submit(body, idempotency_key))

    async def submit(
        self, request: RenderRequest | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Job:
        """Submit a prepared ``RenderRequest`` (or its JSON as a mapping)."""
        return await self._run(self._core.submit(request, idempotency_key))

    async def render_batch(
        self,
        requests: Sequence[RenderRequest | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> list[Job]:
        """Submit 1 to 100 clips, accepted or refused together."""
        return await self._run(self._core.submit_batch(requests, idempotency_key))

    async def get_job(self, job_id: str) -> Job:
        return await self._run(self._core.get_job(job_id))

    async def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""
        return await self._run(self._core.list_jobs(status, limit, cursor))

    async def iter_jobs(
        self, *, status: JobStatus | str | None = None, page_size: int = 100
    ) -> AsyncIterator[Job]:
        """Every job (of ``status``), newest first, fetching pages as needed."""
        cursor: str | None = None
        while True:
            page = await self.list_jobs(status=status, limit=page_size, cursor=cursor)
            for job in page.jobs:
                yield job
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def wait(
        self,
        job_id: str,
        *,
        timeout_s: float = 600.0,
        poll_interval_s: float = 0.5,
        on_progress: Callable[[Job], Awaitable[None] | None] | None = None,
    ) -> Job:
        """Poll until the job is succeeded, failed or cancelled and return it (a failed job
        is returned, not raised: see ``job.error``). ``on_progress`` (plain or async) gets
        every change. Raises ``WaitTimeout`` after ``timeout_s``; the job itself keeps going."""
        return await self._run(self._core.wait(job_id, timeout_s, poll_interval_s, on_progress))

    async def cancel(self, job_id: str) -> Job:
        """Cancel: a queued job at once, a running one at its next batch of frames."""
        return await self._run(self._core.cancel(job_id))

    async def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again as a new attempt (``Conflict`` otherwise)."""
        return await self._run(self._core.retry(job_id))

    # --- outputs ------------------------------------------------------------------------

    async def get_manifest(self, job_id: str) -> Manifest:
        return await self._run(self._core.get_manifest(job_id))

    async def download_frame(
        self,
        job_id: str,
        index: int,
        dest: str | os.PathLike[str],
        *,
        manifest: Manifest | None = None,
    ) -> Path:
        """Save frame ``index`` to ``dest`` (a file, or a folder to keep its name), checked
        against the manifest (fetched unless given); ``ChecksumMismatch`` if it differs."""
        return await self._run(self._core.download_frame(job_id, index, dest, manifest))

    async def download_clip(
        self, job_id: str, dest: str | os.PathLike[str], *, manifest: Manifest | None = None
    ) -> Path:
        """Save the mp4 to ``dest`` (file or folder), checked against the manifest."""
        return await self._run(self._core.download_clip(job_id, dest, manifest))

    async def download_outputs(
        self, job_id: str, folder: str | os.PathLike[str]
    ) -> DownloadedOutputs:
        """Save every frame, the clip and ``manifest.json`` under ``folder``, each checked."""
        return await self._run(self._core.download_outputs(job_id, folder))

    # --- events -------------------------------------------------------------------------

    def events(
        self,
        *,
        render_id: str | None = None,
        types: Sequence[EventType | str] | None = None,
        last_event_id: str | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        reconnect_for_s: float = DEFAULT_RECONNECT_FOR_S,
    ) -> AsyncEventStream:
        """The tenant's events as ``AvatarRenderClient.events``: ``async for``, or ``async
        with client.events() as stream`` to connect first; resumes by itself."""
        op = tenant_events(
            self._core, render_id, types, last_event_id, idle_timeout_s, reconnect_for_s
        )
        return AsyncEventStream(self._http, op, last_event_id)

    def render_events(
        self,
        job_id: str,
        *,
        last_event_id: str | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        reconnect_for_s: float = DEFAULT_RECONNECT_FOR_S,
    ) -> AsyncEventStream:
        """One render's events, from ``render.state`` to its terminal event."""
        op = render_events(self._core, job_id, last_event_id, idle_timeout_s, reconnect_for_s)
        return AsyncEventStream(self._http, op, last_event_id)

    # --- health -------------------------------------------------------------------------

    async def health(self) -> Health:
        """``/healthz``: the API process answers."""
        return await self._run(self._core.health())

    async def ready(self) -> Readiness:
        """``/readyz``: Redis answers and every queue has a worker (``.ready``); no retries."""
        return await self._run(self._core.ready())
