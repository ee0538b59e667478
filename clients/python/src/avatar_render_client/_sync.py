"""The blocking client: runs the shared operations of ``_core`` with httpx.Client."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, Unpack, cast

import httpx

from avatar_render_client._core import ClientCore, Upload
from avatar_render_client._event_io import EventStream
from avatar_render_client._event_stream import (
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_RECONNECT_FOR_S,
    render_events,
    tenant_events,
)
from avatar_render_client._retry import RetryPolicy
from avatar_render_client._steps import Call, Notify, Op, Outcome, Sleep, Step
from avatar_render_client._webhooks_api import WebhookMethods, WebhookOps
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


class AvatarRenderClient(WebhookMethods):
    """Blocking client for the avatar-render HTTP API.

    ``base_url`` is the API's root (``http://host:8000``); ``api_key`` the tenant's key.
    ``transport`` replaces httpx's own (tests, proxies). Use it as a context manager, or
    call ``close()``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = ClientCore(base_url, api_key, retry)
        self._http = httpx.Client(transport=transport, **self._core.http_options(timeout_s))
        self._webhooks = WebhookOps(self._core)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AvatarRenderClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- the I/O: the only part that differs from the async client ------------------

    def _run(self, op: Op[T]) -> T:
        outcome: Outcome = None
        try:
            while True:
                outcome = self._do(op.send(outcome))
        except StopIteration as done:
            return cast(T, done.value)
        finally:
            op.close()

    def _do(self, step: Step) -> Outcome:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, Notify):
            step.callback(step.job)
            return None
        return self._send(step.call)

    def _send(self, call: Call) -> httpx.Response | httpx.TransportError:
        try:
            response = self._http.send(call.build(self._http), stream=True)
            try:
                if call.sink is not None and response.is_success:
                    call.sink.open()
                    for chunk in response.iter_bytes():
                        call.sink.write(chunk)
                else:
                    response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            return exc
        return response

    # --- characters and driving videos ----------------------------------------------

    def register_character(
        self, portrait: Upload, name: str | None = None, *, filename: str | None = None
    ) -> Character:
        """Register a portrait (a path, bytes or a binary file) once; render it many times."""
        return self._run(self._core.register_character(portrait, name, filename))

    def get_character(self, character_id: str) -> Character:
        return self._run(self._core.get_character(character_id))

    def upload_driving_video(self, video: Upload, *, filename: str | None = None) -> DrivingVideo:
        """Upload an mp4 or webm whose motion renders can follow (``driving_video_id``)."""
        return self._run(self._core.upload_driving_video(video, filename))

    def get_driving_video(self, video_id: str) -> DrivingVideo:
        return self._run(self._core.get_driving_video(video_id))

    # --- renders ------------------------------------------------------------------------

    def render(
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
        return self._run(self._core.submit(body, idempotency_key))

    def submit(
        self, request: RenderRequest | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Job:
        """Submit a prepared ``RenderRequest`` (or its JSON as a mapping)."""
        return self._run(self._core.submit(request, idempotency_key))

    def render_batch(
        self,
        requests: Sequence[RenderRequest | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> list[Job]:
        """Submit 1 to 100 clips, accepted or refused together."""
        return self._run(self._core.submit_batch(requests, idempotency_key))

    def get_job(self, job_id: str) -> Job:
        return self._run(self._core.get_job(job_id))

    def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""
        return self._run(self._core.list_jobs(status, limit, cursor))

    def iter_jobs(
        self, *, status: JobStatus | str | None = None, page_size: int = 100
    ) -> Iterator[Job]:
        """Every job (of ``status``), newest first, fetching pages as needed."""
        cursor: str | None = None
        while True:
            page = self.list_jobs(status=status, limit=page_size, cursor=cursor)
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def wait(
        self,
        job_id: str,
        *,
        timeout_s: float = 600.0,
        poll_interval_s: float = 0.5,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job is succeeded, failed or cancelled and return it (a failed job
        is returned, not raised: see ``job.error``). ``on_progress`` gets every change.
        Raises ``WaitTimeout`` after ``timeout_s``; the job itself keeps going."""
        return self._run(self._core.wait(job_id, timeout_s, poll_interval_s, on_progress))

    def cancel(self, job_id: str) -> Job:
        """Cancel: a queued job at once, a running one at its next batch of frames."""
        return self._run(self._core.cancel(job_id))

    def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again as a new attempt (``Conflict`` otherwise)."""
        return self._run(self._core.retry(job_id))

    # --- outputs ------------------------------------------------------------------------

    def get_manifest(self, job_id: str) -> Manifest:
        return self._run(self._core.get_manifest(job_id))

    def download_frame(
        self,
        job_id: str,
        index: int,
        dest: str | os.PathLike[str],
        *,
        manifest: Manifest | None = None,
    ) -> Path:
        """Save frame ``index`` to ``dest`` (a file, or a folder to keep its name), checked
        against the manifest (fetched unless given); ``ChecksumMismatch`` if it differs."""
        return self._run(self._core.download_frame(job_id, index, dest, manifest))

    def download_clip(
        self, job_id: str, dest: str | os.PathLike[str], *, manifest: Manifest | None = None
    ) -> Path:
        """Save the mp4 to ``dest`` (file or folder), checked against the manifest."""
        return self._run(self._core.download_clip(job_id, dest, manifest))

    def download_outputs(self, job_id: str, folder: str | os.PathLike[str]) -> DownloadedOutputs:
        """Save every frame, the clip and ``manifest.json`` under ``folder``, each checked."""
        return self._run(self._core.download_outputs(job_id, folder))

    # --- events -------------------------------------------------------------------------

    def events(
        self,
        *,
        render_id: str | None = None,
        types: Sequence[EventType | str] | None = None,
        last_event_id: str | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        reconnect_for_s: float = DEFAULT_RECONNECT_FOR_S,
    ) -> EventStream:
        """The tenant's events as they are written (server-sent events), optionally of one
        render or some types; it never ends by itself. It reconnects on its own with the
        last event's id, so each event comes once, in order; pass ``last_event_id`` to
        resume from a stored id (``EventsExpired`` when that is past the retention).
        Connects on the first read, or on entering ``with client.events() as stream``."""
        op = tenant_events(
            self._core, render_id, types, last_event_id, idle_timeout_s, reconnect_for_s
        )
        return EventStream(self._http, op, last_event_id)

    def render_events(
        self,
        job_id: str,
        *,
        last_event_id: str | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        reconnect_for_s: float = DEFAULT_RECONNECT_FOR_S,
    ) -> EventStream:
        """One render's events: first a ``render.state`` event (``event.job`` is the job
        then), then each change; it ends after ``render.succeeded``, ``render.failed`` or
        ``render.cancelled`` (after the state when the job had already ended)."""
        op = render_events(self._core, job_id, last_event_id, idle_timeout_s, reconnect_for_s)
        return EventStream(self._http, op, last_event_id)

    # --- health -------------------------------------------------------------------------

    def health(self) -> Health:
        """``/healthz``: the API process answers."""
        return self._run(self._core.health())

    def ready(self) -> Readiness:
        """``/readyz``: Redis answers and every queue has a worker (``.ready``); no retries."""
        return self._run(self._core.ready())
