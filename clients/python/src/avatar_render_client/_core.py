"""Everything the sync and async clients share: requests, retries, parsing, verification.

Each operation is a generator that yields what it needs done (send this request, sleep
this long, call the progress callback) and receives the result. The sync client runs
these steps with blocking calls and the async client with awaits, so all the logic,
retries and multi-step operations included, exists once; the clients only do I/O.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any, TypeAlias, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from avatar_render_client._retry import RetryPolicy, raise_for_status, retry_delay
from avatar_render_client._sink import Sink
from avatar_render_client._steps import (
    Call,
    Notify,
    Op,
    ProgressCallback,
    Send,
    Sleep,
)
from avatar_render_client._version import __version__
from avatar_render_client.client_errors import ChecksumMismatch, ConnectionFailed, WaitTimeout
from avatar_render_client.errors import NotFound
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
    ObjectEntry,
    Readiness,
    RenderOptions,
    RenderRequest,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: A portrait or video: a path, the bytes themselves, or an open binary file.
Upload: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]


# The API sniffs what an upload is; the file name and media type are not trusted.
_OCTETS = "application/octet-stream"


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _segment(value: str) -> str:
    return quote(value, safe="")


@contextmanager
def _content(upload: Upload) -> Iterator[bytes | IO[bytes]]:
    """What to send for an upload; a path is opened (and closed) here. httpx rewinds a
    file before each send, so a retry sends the whole file again."""
    if isinstance(upload, bytes | bytearray | memoryview):
        yield bytes(upload)
    elif isinstance(upload, str | os.PathLike):
        with Path(upload).open("rb") as handle:
            yield handle
    else:
        yield upload


def _upload_name(upload: Upload, given: str | None, default: str) -> str:
    if given:
        return given
    if isinstance(upload, str | os.PathLike):
        return Path(upload).name
    name = getattr(upload, "name", None)
    return Path(name).name if isinstance(name, str) else default


_JSON_OBJECT = TypeAdapter(dict[str, Any])


def _request_body(request: RenderRequest | Mapping[str, Any]) -> dict[str, Any]:
    """JSON for one render request, fields left as None omitted so server defaults apply.

    Not validated here: the server is the one judge of a request (422 ``invalid_request``
    naming the field), so a client of any version agrees with it."""
    if isinstance(request, RenderRequest):
        return request.to_json()
    given = {key: value for key, value in request.items() if value is not None}
    body: dict[str, Any] = _JSON_OBJECT.dump_python(given, mode="json", exclude_none=True)
    return body


def _changed(job: Job, last: Job | None) -> bool:
    if last is None:
        return True
    return (job.status, job.progress, job.attempts) != (last.status, last.progress, last.attempts)


def _destination(dest: str | os.PathLike[str], key: str) -> Path:
    """A file path, or a folder (one that exists, or a path ending in a separator): then
    the file keeps its storage name."""
    path = Path(dest)
    folder = path.is_dir() or os.fspath(dest).endswith(("/", os.sep))
    return path / PurePosixPath(key).name if folder else path


class ClientCore:
    """The operations, as generators of steps; see the module docstring."""

    def __init__(self, base_url: str, api_key: str | None, retry: RetryPolicy | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.policy = retry or RetryPolicy()

    def http_options(self, timeout_s: float) -> dict[str, Any]:
        """Keyword arguments for httpx.Client and httpx.AsyncClient alike."""
        headers = {"User-Agent": f"avatar-render-client/{__version__}"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # Redirects: with S3 storage, outputs answer 307 to a presigned URL (httpx drops
        # the Authorization header when the host changes).
        return {"headers": headers, "timeout": timeout_s, "follow_redirects": True}

    def url(self, *parts: str) -> str:
        return self.base_url + "".join(f"/{part}" for part in parts)

    # --- primitives -----------------------------------------------------------------

    def send(self, call: Call) -> Op[httpx.Response]:
        """Send with retries; raise the typed error of the final answer."""
        attempt = 0
        while True:
            attempt += 1
            outcome = yield Send(call)
            delay = retry_delay(self.policy, call, outcome, attempt)
            if delay is None:
                break
            yield Sleep(delay)
        if isinstance(outcome, httpx.TransportError):
            raise ConnectionFailed(call.url, _one_line(outcome), attempts=attempt) from outcome
        assert outcome is not None, "a Send step answers with a response or an error"
        raise_for_status(outcome, call)
        return outcome

    def _model(self, model: type[M], call: Call) -> Op[M]:
        response = yield from self.send(call)
        return model.model_validate_json(response.content)

    def _get(self, model: type[M], *parts: str, **params: str | int | None) -> Op[M]:
        given = {k: v for k, v in params.items() if v is not None}
        return self._model(model, Call("GET", self.url(*parts), params=given, idempotent=True))

    # --- characters and driving videos ----------------------------------------------

    def register_character(
        self, portrait: Upload, name: str | None, filename: str | None
    ) -> Op[Character]:
        with _content(portrait) as content:
            upload = (_upload_name(portrait, filename, "portrait"), content, _OCTETS)
            call = Call(
                "POST",
                self.url("v1", "characters"),
                files={"portrait": upload},
                data={"name": name} if name is not None else None,
            )
            return (yield from self._model(Character, call))

    def get_character(self, character_id: str) -> Op[Character]:
        return self._get(Character, "v1", "characters", _segment(character_id))

    def upload_driving_video(self, video: Upload, filename: str | None) -> Op[DrivingVideo]:
        with _content(video) as content:
            upload = (_upload_name(video, filename, "video.mp4"), content, _OCTETS)
            call = Call("POST", self.url("v1", "driving-videos"), files={"video": upload})
            return (yield from self._model(DrivingVideo, call))

    def get_driving_video(self, video_id: str) -> Op[DrivingVideo]:
        return self._get(DrivingVideo, "v1", "driving-videos", _segment(video_id))

    # --- submissions ------------------------------------------------------------------

    @staticmethod
    def render_body(
        character_id: str,
        emotion: Emotion | str | None,
        driving_video_id: str | None,
        options: RenderOptions,
    ) -> dict[str, Any]:
        """``render()``'s arguments as a request body."""
        fields = {
            "character_id": character_id,
            "emotion": emotion,
            "driving_video_id": driving_video_id,
        }
        return _request_body({**fields, **options})

    def _submission(self, path: str, body: Any, idempotency_key: str | None) -> Call:
        # One key per call, generated here and reused by every retry of it: the server
        # answers a repeated key with the jobs it already made, never with new ones.
        key = idempotency_key or uuid.uuid4().hex
        return Call(
            "POST",
            self.url(*path.split("/")),
            json=body,
            headers={"Idempotency-Key": key},
            idempotent=True,
        )

    def submit(
        self, request: RenderRequest | Mapping[str, Any], idempotency_key: str | None
    ) -> Op[Job]:
        call = self._submission("v1/renders", _request_body(request), idempotency_key)
        return self._model(Job, call)

    def submit_batch(
        self, requests: Sequence[RenderRequest | Mapping[str, Any]], idempotency_key: str | None
    ) -> Op[list[Job]]:
        body = {"requests": [_request_body(r) for r in requests]}
        call = self._submission("v1/renders/batch", body, idempotency_key)
        response = yield from self.send(call)
        return [Job.model_validate(job) for job in response.json()["jobs"]]

    # --- jobs -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Op[Job]:
        return self._get(Job, "v1", "renders", _segment(job_id))

    def list_jobs(
        self, status: JobStatus | str | None, limit: int | None, cursor: str | None
    ) -> Op[JobPage]:
        status_value = str(status) if status is not None else None  # a StrEnum is its value
        return self._get(JobPage, "v1", "renders", status=status_value, limit=limit, cursor=cursor)

    def wait(
        self,
        job_id: str,
        timeout_s: float,
        poll_interval_s: float,
        on_progress: ProgressCallback | None,
    ) -> Op[Job]:
        """Poll until the job is succeeded, failed or cancelled; ``on_progress`` sees each
        change of status, progress or attempt (and the first state)."""
        deadline = time.monotonic() + timeout_s
        last: Job | None = None
        while True:
            job = yield from self.get_job(job_id)
            if on_progress is not None and _changed(job, last):
                yield Notify(on_progress, job)
            last = job
            if job.is_terminal:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(job_id, job.status.value, timeout_s)
            yield Sleep(min(poll_interval_s, remaining))

    def cancel(self, job_id: str) -> Op[Job]:
        return self._model(Job, Call("POST", self.url("v1", "renders", _segment(job_id), "cancel")))

    def retry(self, job_id: str) -> Op[Job]:
        return self._model(Job, Call("POST", self.url("v1", "renders", _segment(job_id), "retry")))

    # --- outputs ----------------------------------------------------------------------

    def _manifest_response(self, job_id: str) -> Op[tuple[Manifest, bytes]]:
        call = Call("GET", self.url("v1", "renders", _segment(job_id), "manifest"), idempotent=True)
        response = yield from self.send(call)
        return Manifest.model_validate_json(response.content), response.content

    def get_manifest(self, job_id: str) -> Op[Manifest]:
        manifest, _ = yield from self._manifest_response(job_id)
        return manifest

    def _download(self, url: str, entry: ObjectEntry, dest: Path) -> Op[Path]:
        """Fetch into ``dest`` and check size and sha256 against the manifest entry."""
        sink = Sink(dest)
        try:
            yield from self.send(Call("GET", url, idempotent=True, sink=sink))
            if sink.size != entry.size or sink.sha256 != entry.sha256:
                raise ChecksumMismatch(
                    entry.key,
                    expected_size=entry.size,
                    actual_size=sink.size,
                    expected_sha256=entry.sha256,
                    actual_sha256=sink.sha256,
                )
            return sink.commit()
        finally:
            sink.discard()

    def download_frame(
        self,
        job_id: str,
        index: int,
        dest: str | os.PathLike[str],
        manifest: Manifest | None,
    ) -> Op[Path]:
        if manifest is None:
            manifest = yield from self.get_manifest(job_id)
        try:
            entry = manifest.frame(index)
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None
        url = self.url("v1", "renders", _segment(job_id), "frames", str(index))
        return (yield from self._download(url, entry, _destination(dest, entry.key)))

    def download_clip(
        self, job_id: str, dest: str | os.PathLike[str], manifest: Manifest | None
    ) -> Op[Path]:
        if manifest is None:
            manifest = yield from self.get_manifest(job_id)
        if manifest.clip is None:
            raise NotFound(f"render {job_id} has no clip (it was not asked for an mp4)")
        url = self.url("v1", "renders", _segment(job_id), "clip.mp4")
        return (
            yield from self._download(url, manifest.clip, _destination(dest, manifest.clip.key))
        )

    def download_outputs(
        self, job_id: str, folder: str | os.PathLike[str]
    ) -> Op[DownloadedOutputs]:
        """Every frame into ``folder/frames/``, the clip, then ``manifest.json`` last: as in
        storage, a folder with a manifest is complete and verified."""
        root = Path(folder)
        manifest, raw = yield from self._manifest_response(job_id)
        frames = []
        for entry in manifest.frames:
            frame_dest = root / "frames" / PurePosixPath(entry.key).name
            url = self.url("v1", "renders", _segment(job_id), "frames", str(entry.index))
            frames.append((yield from self._download(url, entry, frame_dest)))
        clip = None
        if manifest.clip is not None:
            clip_dest = root / PurePosixPath(manifest.clip.key).name
            clip_url = self.url("v1", "renders", _segment(job_id), "clip.mp4")
            clip = yield from self._download(clip_url, manifest.clip, clip_dest)
        manifest_path = root / "manifest.json"
        part = manifest_path.with_name("manifest.json.part")
        part.write_bytes(raw)
        os.replace(part, manifest_path)
        return DownloadedOutputs(
            folder=root, manifest=manifest, manifest_path=manifest_path, frames=frames, clip=clip
        )

    # --- health -----------------------------------------------------------------------

    def health(self) -> Op[Health]:
        return self._model(Health, Call("GET", self.url("healthz"), idempotent=True))

    def ready(self) -> Op[Readiness]:
        call = Call("GET", self.url("readyz"), retry=False, accept=frozenset({503}))
        return self._model(Readiness, call)
