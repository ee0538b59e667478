"""One exception class per error code the API answers with, under ``AvatarRenderError``.

The API sends errors as ``{"error": {"code": ..., "message": ...}}``; the ``code`` is the
stable part, so it, not the HTTP status, picks the class. A code this version does not
know yet becomes a plain ``AvatarRenderError`` that still carries the code::

    AvatarRenderError
    ├── InvalidInput (422)            the request or upload cannot be used
    │   ├── InvalidRequest                a field failed validation (the message names it)
    │   ├── UnsupportedImage (415)        not a PNG/JPEG/WebP still image, or undecodable
    │   ├── ImageTooLarge (413)           over 10 MB or 4096 px a side
    │   ├── NoFaceFound                   no face in the portrait (or a video's first frame)
    │   ├── EmptyFile (415)               an empty upload
    │   ├── UnsupportedVideo (415), VideoTooLarge (413), VideoTooLong, VideoTooManyFrames,
    │   │   NoVideoStream, NoVideoFrames
    │   ├── UnstorableRecord              what was sent would not read back once stored
    ├── NotFound (404)                unknown id, or another tenant's
    │   ├── CharacterNotFound, DrivingVideoNotFound
    ├── Conflict (409)                wrong state for that
    │   ├── NotReady                      outputs asked for before the render succeeded
    │   ├── NotPlayable                   a live view of a failed, cancelled or frameless render
    │   ├── IllegalTransition
    │   ├── IdempotencyKeyReused          the same key with another body
    │   ├── IdempotencyInProgress         the same key while the first call still runs
    │   └── FenceLost                     internal: a request that lost its key's lease
    ├── OutputsExpired (410)          retention deleted the outputs
    ├── Unauthorized (401)            missing or unknown API key
    ├── Throttled (429)               a tenant's limit; ``retry_after`` says when to try again
    │   ├── QueueFull                     the tenant's jobs queued or running are at its cap
    │   └── RateLimited                   the tenant submits faster than its rate
    ├── MethodNotAllowed (405), HttpError, InternalError (500)
    ├── BadRequest (400)              InvalidJson, InvalidSdp (a WHEP offer that cannot be answered)
    ├── UnsupportedMediaType (415), OfferTooLarge (413)    a WHEP offer's body
    ├── BodyTooLarge (413), TooManyValidations (429), UnreadableRecord (500)
    ├── TransientError (503)          retrying later can help
    │   ├── QueueUnavailable, StorageUnavailable, GpuOutOfMemory, WorkerLost, RenderTimeout,
    │   │   ReplicationUnavailable, UploadsBusy, ValidationUnavailable,
    │   │   TooManySessions (a server's live sessions are full)
    │   └── Overloaded                    an interactive render would wait too long to start
    ├── RenderFailed, StaleAttempt    job error codes (seen in ``Job.error``)
    ├── ConfigurationError            WeightsInvalid, FaceModelsInvalid
    └── client side (``client_errors``): ConnectionFailed, WaitTimeout, ChecksumMismatch,
        WebhookVerificationError (``verify_webhook``: the delivery is not authentic)
"""

from __future__ import annotations

from avatar_render_client._error_base import AvatarRenderError as AvatarRenderError
from avatar_render_client.client_errors import (
    ChecksumMismatch,
    ConnectionFailed,
    WaitTimeout,
    WebhookVerificationError,
)

# --- 4xx: the request cannot be used as it is ------------------------------------------


class InvalidInput(AvatarRenderError):
    """The client sent something the API cannot use."""

    code = "invalid_input"
    http_status = 422


class InvalidRequest(InvalidInput):
    """The request failed validation; the message names the fields."""

    code = "invalid_request"


class UnsupportedImage(InvalidInput):
    """Not a PNG, JPEG or WebP still image, or not fully decodable."""

    code = "unsupported_image"
    http_status = 415


class ImageTooLarge(InvalidInput):
    """Over the portrait's byte or pixel limits."""

    code = "image_too_large"
    http_status = 413


class NoFaceFound(InvalidInput):
    """No face to animate in the portrait, or in a non-square video's first frame."""

    code = "no_face_found"


class EmptyFile(InvalidInput):
    """The uploaded file is empty."""

    code = "empty_file"
    http_status = 415


class UnsupportedVideo(InvalidInput):
    """Not an mp4 or webm video, or not decodable to its end."""

    code = "unsupported_video"
    http_status = 415


class VideoTooLarge(InvalidInput):
    """Over the driving video's byte or frame-size limits."""

    code = "video_too_large"
    http_status = 413


class VideoTooLong(InvalidInput):
    """The driving video is longer than the API accepts."""

    code = "video_too_long"


class VideoTooManyFrames(InvalidInput):
    """The driving video has more frames than the API accepts."""

    code = "video_too_many_frames"


class NoVideoStream(InvalidInput):
    """The file has no video stream."""

    code = "no_video_stream"


class NoVideoFrames(InvalidInput):
    """The video decodes to no frames."""

    code = "no_video_frames"


class UnstorableRecord(InvalidInput):
    """What was sent would not read back once stored (refused before it is stored)."""

    code = "unstorable_record"


class BodyTooLarge(AvatarRenderError):
    """The request body is over the route's limit (1 MiB of JSON, or an upload's)."""

    code = "body_too_large"
    http_status = 413


class TooManyValidations(AvatarRenderError):
    """This tenant has as many uploads being checked as it may; retry after Retry-After."""

    code = "too_many_validations"
    http_status = 429


class NotFound(AvatarRenderError):
    """Unknown id, or one that belongs to another tenant (the API does not say which)."""

    code = "not_found"
    http_status = 404


class CharacterNotFound(NotFound):
    """A render names a character this tenant has not registered."""

    code = "character_not_found"


class DrivingVideoNotFound(NotFound):
    """A render names a driving video this tenant has not uploaded."""

    code = "driving_video_not_found"


class MethodNotAllowed(AvatarRenderError):
    """The path exists but not with that method (a client/server version mismatch)."""

    code = "method_not_allowed"
    http_status = 405


class Conflict(AvatarRenderError):
    """The resource is in a state that does not allow the operation."""

    code = "conflict"
    http_status = 409


class NotReady(Conflict):
    """Outputs were asked for before the render succeeded."""

    code = "not_ready"


class IllegalTransition(Conflict):
    """The job's status does not allow that move."""

    code = "illegal_transition"


class NotPlayable(Conflict):
    """A live (WHEP) view of a render that failed, was cancelled or stores no frames."""

    code = "not_playable"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before with a different request body."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    """A request with this Idempotency-Key is still being handled; retry shortly."""

    code = "idempotency_in_progress"


class FenceLost(Conflict):
    """A request lost its Idempotency-Key's lease to a retry (internal; listed so every
    code has a class)."""

    code = "fence_lost"


class EventsExpired(AvatarRenderError):
    """The events after that Last-Event-ID are past the retention: start a fresh stream."""

    code = "events_expired"
    http_status = 410


class WebhookUrlRefused(InvalidInput):
    """The webhook URL is not https, or resolves to a private or loopback address."""

    code = "webhook_url_refused"


class OutputsExpired(AvatarRenderError):
    """Retention deleted the render's outputs."""

    code = "outputs_expired"
    http_status = 410


class Unauthorized(AvatarRenderError):
    """Missing or unknown API key."""

    code = "unauthorized"
    http_status = 401


class Throttled(AvatarRenderError):
    """A limit of the tenant refused the submission; ``retry_after`` says when to try again."""

    code = "throttled"
    http_status = 429


class QueueFull(Throttled):
    """The tenant already has as many renders queued or running as it may."""

    code = "queue_full"


class RateLimited(Throttled):
    """The tenant submits faster than its rate allows (a batch counts as its size)."""

    code = "rate_limited"


class HttpError(AvatarRenderError):
    """An HTTP error without a more specific code (also: a body that is not our envelope)."""

    code = "http_error"


class BadRequest(AvatarRenderError):
    """The request could not be parsed (a malformed multipart form, say)."""

    code = "bad_request"
    http_status = 400


class InvalidJson(BadRequest):
    """The body is not valid JSON."""

    code = "invalid_json"


class InvalidSdp(BadRequest):
    """A WHEP offer that is not SDP, or asks for nothing the server can send."""

    code = "invalid_sdp"


class UnsupportedMediaType(InvalidInput):
    """The body's media type is not the one the route takes (a WHEP offer: application/sdp)."""

    code = "unsupported_media_type"
    http_status = 415


class OfferTooLarge(InvalidInput):
    """A WHEP offer over 64 KiB."""

    code = "offer_too_large"
    http_status = 413


# --- 5xx and job errors -----------------------------------------------------------------


class InternalError(AvatarRenderError):
    """An unexpected server-side failure."""

    code = "internal_error"
    http_status = 500


class TransientError(AvatarRenderError):
    """A passing fault: the same call may succeed later."""

    code = "transient_error"
    http_status = 503


class StorageUnavailable(TransientError):
    """Object storage did not answer or refused."""

    code = "storage_unavailable"


class QueueUnavailable(TransientError):
    """Redis (job store or broker) did not answer."""

    code = "queue_unavailable"


class ReplicationUnavailable(TransientError):
    """No Redis replica acknowledged the submission in time; nothing was accepted."""

    code = "replication_unavailable"


class UploadsBusy(TransientError):
    """The API is checking as many uploads as it may; retry after Retry-After."""

    code = "uploads_busy"


class ValidationUnavailable(TransientError):
    """The process checking the upload died; send it again."""

    code = "validation_unavailable"


class Overloaded(TransientError):
    """The farm is too busy: an interactive render would wait longer than allowed to start.
    Retry after ``retry_after``, or submit it as ``priority="batch"``."""

    code = "overloaded"


class GpuOutOfMemory(TransientError):
    """CUDA ran out of memory even at the smallest batch size."""

    code = "gpu_out_of_memory"


class TooManySessions(TransientError):
    """The server holds as many live (WHEP) sessions as it may; retry after Retry-After."""

    code = "too_many_sessions"


class WorkerLost(TransientError):
    """The process rendering the job died."""

    code = "worker_lost"


class RenderTimeout(TransientError):
    """The attempt outran its time limit."""

    code = "timeout"


class RenderFailed(AvatarRenderError):
    """The render cannot succeed however often it is retried."""

    code = "render_failed"
    http_status = 500


class UnreadableRecord(AvatarRenderError):
    """A record on the server does not parse; the server logged it."""

    code = "unreadable_record"
    http_status = 500


class StaleAttempt(AvatarRenderError):
    """A newer attempt owns the job (internal; listed so every code has a class)."""

    code = "stale_attempt"
    http_status = 500


class ConfigurationError(AvatarRenderError):
    """A server process cannot start: missing weights, bad settings."""

    code = "configuration_error"
    http_status = 500


class WeightsInvalid(ConfigurationError):
    """The renderer's checkpoint files are missing or malformed."""

    code = "weights_invalid"


class FaceModelsInvalid(ConfigurationError):
    """The face-model bundle is corrupt or half-installed."""

    code = "face_models_invalid"


def _subclasses(cls: type[AvatarRenderError]) -> list[type[AvatarRenderError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


_CLIENT_SIDE = (ConnectionFailed, WaitTimeout, ChecksumMismatch, WebhookVerificationError)

#: Every code the API may send, and its class.
ERROR_CLASSES: dict[str, type[AvatarRenderError]] = {
    c.code: c for c in _subclasses(AvatarRenderError) if c not in _CLIENT_SIDE
}


def error_for_code(
    code: str, message: str, *, http_status: int | None = None, retry_after: float | None = None
) -> AvatarRenderError:
    """The typed exception for an API error; an unknown code gives the base class."""
    cls = ERROR_CLASSES.get(code, AvatarRenderError)
    return cls(message, code=code, http_status=http_status, retry_after=retry_after)
