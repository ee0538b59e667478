"""The error tree shared by the API and the workers.

Every error carries a stable ``code`` (shown to clients and stored in job records)
and says whether retrying can help; the task layer retries only ``TransientError``::

    RenderServiceError
    ├── InvalidInput              permanent, 4xx: the client sent something we cannot use
    │   ├── UnsupportedImage          not a PNG/JPEG/WebP still image, or undecodable
    │   ├── ImageTooLarge             over the byte or pixel limits
    │   ├── NoFaceFound               no face in the portrait
    │   ├── UnsupportedVideo          not an mp4 or webm video, or undecodable
    │   ├── VideoTooLarge             over the byte or frame-size limits
    │   └── UnstorableRecord          what was sent would not read back once stored
    ├── NotFound                  404: unknown, or another tenant's
    ├── Conflict                  409: the resource is in the wrong state for that
    ├── OutputsExpired            410: the render's outputs were deleted by retention
    ├── EventsExpired             410: a resume point older than the event log's retention
    ├── Unauthorized              401: missing or unknown API key
    ├── Throttled                 429: a tenant's limit; retry after ``retry_after_s``
    │   ├── QueueFull                 the tenant's jobs queued or running are at its cap
    │   └── RateLimited               the tenant submits faster than its rate
    ├── PermanentRenderError      the render cannot succeed however often it is retried
    ├── TransientError            retry with backoff
    │   ├── StorageUnavailable        object storage did not answer or refused
    │   ├── QueueUnavailable          Redis did not answer
    │   ├── Overloaded                an interactive job would wait too long to start
    │   ├── GpuOutOfMemory            CUDA out of memory even at the smallest batch
    │   ├── WorkerLost                the process rendering it died
    │   └── RenderTimeout             the attempt outran its time limit
    ├── StaleAttempt              a newer attempt owns the job; this one stops quietly
    ├── UnreadableRecord          a stored record no longer parses (500; loops skip it)
    └── ConfigurationError        a process cannot start (missing weights, bad settings)
        └── WeightsError              checkpoint files missing or malformed
"""

from __future__ import annotations


class RenderServiceError(Exception):
    """Base of every error we raise on purpose."""

    code = "internal_error"
    retryable = False
    http_status = 500
    # Seconds a client should wait before trying again (the API's Retry-After), if known.
    retry_after_s: float | None = None

    def __init__(
        self, message: str, *, code: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retry_after_s is not None:  # else the class's own (None, or a fixed wait)
            self.retry_after_s = retry_after_s


class InvalidInput(RenderServiceError):
    """The client sent something we cannot use."""

    code = "invalid_input"
    http_status = 422


class UnsupportedImage(InvalidInput):
    """Not a PNG, JPEG or WebP still image, or not fully decodable."""

    code = "unsupported_image"
    http_status = 415


class ImageTooLarge(InvalidInput):
    """Over the byte or pixel limits."""

    code = "image_too_large"
    http_status = 413


class NoFaceFound(InvalidInput):
    """The portrait shows no face we can animate."""

    code = "no_face_found"
    http_status = 422


class UnsupportedVideo(InvalidInput):
    """Not an mp4 or webm video, or not decodable to its end."""

    code = "unsupported_video"
    http_status = 415


class VideoTooLarge(InvalidInput):
    """Over the byte or frame-size limits."""

    code = "video_too_large"
    http_status = 413


class UnstorableRecord(InvalidInput):
    """The record made from a request would not read back as written: refused before it is
    stored, so no request can leave a record that breaks every later read."""

    code = "unstorable_record"
    http_status = 422


class NotFound(RenderServiceError):
    """Unknown id, or one that belongs to another tenant (we do not say which)."""

    code = "not_found"
    http_status = 404


class Conflict(RenderServiceError):
    """The resource is in a state that does not allow the operation."""

    code = "conflict"
    http_status = 409


class OutputsExpired(RenderServiceError):
    """Retention deleted the render's outputs."""

    code = "outputs_expired"
    http_status = 410


class EventsExpired(RenderServiceError):
    """The events after that id are past retention: resuming would leave a gap."""

    code = "events_expired"
    http_status = 410


class Unauthorized(RenderServiceError):
    """Missing or unknown API key."""

    code = "unauthorized"
    http_status = 401


class Throttled(RenderServiceError):
    """A tenant's limit refused the submission; it may pass after ``retry_after_s``."""

    code = "throttled"
    http_status = 429


class QueueFull(Throttled):
    """The tenant already has as many jobs queued or running as it may."""

    code = "queue_full"


class RateLimited(Throttled):
    """The tenant submits faster than its rate allows."""

    code = "rate_limited"


class PermanentRenderError(RenderServiceError):
    """The render cannot succeed however often it is retried."""

    code = "render_failed"


class TransientError(RenderServiceError):
    """A passing fault: the attempt is retried with backoff."""

    code = "transient_error"
    retryable = True
    http_status = 503


class StorageUnavailable(TransientError):
    """Object storage did not answer or refused the request."""

    code = "storage_unavailable"


class QueueUnavailable(TransientError):
    """Redis (job store or broker) did not answer."""

    code = "queue_unavailable"


class Overloaded(TransientError):
    """The farm is too busy: an interactive job would wait longer than allowed to start."""

    code = "overloaded"


class GpuOutOfMemory(TransientError):
    """CUDA ran out of memory even at the smallest batch size."""

    code = "gpu_out_of_memory"


class WorkerLost(TransientError):
    """The process rendering the job died."""

    code = "worker_lost"


class RenderTimeout(TransientError):
    """The attempt outran its time limit."""

    code = "timeout"


class StaleAttempt(RenderServiceError):
    """A newer attempt owns the job: this one must stop without writing."""

    code = "stale_attempt"


class UnreadableRecord(RenderServiceError):
    """A record in Redis does not parse (written by hand, by an older version, or damaged).

    Reads of that one record answer 500; every loop over many records logs it, counts it
    (``ar:unreadable``) and goes on with the others.
    """

    code = "unreadable_record"


class ConfigurationError(RenderServiceError):
    """A process cannot start: missing weights, bad settings, unreachable services."""

    code = "configuration_error"


class WeightsError(ConfigurationError):
    """Checkpoint files are missing or do not match the manifest."""

    code = "weights_invalid"
