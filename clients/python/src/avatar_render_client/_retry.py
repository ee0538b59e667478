"""When to send a request again, how long to wait first, and which error a refusal is."""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from avatar_render_client._steps import Call, Outcome
from avatar_render_client.errors import error_for_code

# Errors raised before the request left this machine: retrying cannot run it twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: 429 and 503 wait what ``Retry-After`` says (or back off
    exponentially when it says nothing); network errors back off likewise."""

    max_attempts: int = 4
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    #: A Retry-After longer than this is not waited for: the error is raised at once.
    max_retry_after_s: float = 60.0
    statuses: frozenset[int] = field(default=frozenset({429, 503}))

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt ``attempt`` (1-based): doubling, with jitter so that
        many clients that failed together do not come back together."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None when absent or bad."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_fields(response: httpx.Response) -> tuple[str, str]:
    """The envelope's code and message; a body that is not ours becomes ``http_error``."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = " ".join(response.text.split())[:200]
        return "http_error", text or response.reason_phrase or f"HTTP {response.status_code}"


def retry_delay(policy: RetryPolicy, call: Call, outcome: Outcome, attempt: int) -> float | None:
    """How long to wait before sending ``call`` again; None: do not."""
    if not call.retry or attempt >= policy.max_attempts:
        return None
    if isinstance(outcome, httpx.TransportError):
        if call.idempotent or isinstance(outcome, _NOT_SENT):
            return policy.backoff(attempt)
        return None
    if outcome is None or outcome.is_success or outcome.status_code in call.accept:
        return None
    if outcome.status_code in policy.statuses:
        wait = retry_after_s(outcome)
        if wait is None:
            return policy.backoff(attempt)
        return wait if wait <= policy.max_retry_after_s else None
    # The first call with this key is still being handled: its answer is coming.
    if outcome.status_code == 409 and call.idempotent and call.method == "POST":
        code, _ = error_fields(outcome)
        return policy.backoff(attempt) if code == "idempotency_in_progress" else None
    return None


def raise_for_status(response: httpx.Response, call: Call) -> None:
    if response.is_success or response.status_code in call.accept:
        return
    code, message = error_fields(response)
    raise error_for_code(
        code, message, http_status=response.status_code, retry_after=retry_after_s(response)
    )
