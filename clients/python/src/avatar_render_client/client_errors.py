"""The errors this client raises itself: no HTTP answer, a wait that ran out, a download
that does not match its manifest, a webhook that is not authentic. The API never sends
their codes, so they are not in ``ERROR_CLASSES``."""

from __future__ import annotations

from avatar_render_client._error_base import AvatarRenderError


class ConnectionFailed(AvatarRenderError, ConnectionError):
    """The API could not be reached (refused, reset, timed out); no HTTP answer came."""

    code = "connection_failed"

    def __init__(self, url: str, reason: str, *, attempts: int = 1) -> None:
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        super().__init__(" ".join(f"cannot reach {url}: {reason}{tries}".split()))
        self.url = url
        self.attempts = attempts


class WaitTimeout(AvatarRenderError, TimeoutError):
    """The job did not finish within the wait's timeout; it keeps running on the server."""

    code = "wait_timeout"

    def __init__(self, job_id: str, status: str, timeout_s: float) -> None:
        super().__init__(f"job {job_id} still {status} after {timeout_s:g} s")
        self.job_id = job_id
        self.status = status
        self.timeout_s = timeout_s


class ChecksumMismatch(AvatarRenderError):
    """A downloaded output differs from its manifest entry (size or sha256)."""

    code = "checksum_mismatch"

    def __init__(
        self,
        key: str,
        *,
        expected_size: int,
        actual_size: int,
        expected_sha256: str,
        actual_sha256: str,
    ) -> None:
        if expected_size != actual_size:
            detail = f"size {actual_size} bytes, manifest says {expected_size}"
        else:
            detail = f"sha256 {actual_sha256}, manifest says {expected_sha256}"
        super().__init__(f"{key}: {detail}")
        self.key = key
        self.expected_size = expected_size
        self.actual_size = actual_size
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256


class WebhookVerificationError(AvatarRenderError):
    """A webhook delivery failed ``verify_webhook``: a missing header, no signature that the
    secret made, or a timestamp outside the tolerance. Answer it with a 4xx and ignore it."""

    code = "webhook_verification_failed"
