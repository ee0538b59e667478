"""The steps an operation yields (send, sleep, notify) and what comes back into it.

Operations are generators of these steps, so the sync and async clients run the same
logic and differ only in how they perform a step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import IO, Any, TypeAlias, TypeVar

import httpx

from avatar_render_client._sink import Sink
from avatar_render_client.models import Job

T = TypeVar("T")
ProgressCallback: TypeAlias = Callable[[Job], object]


@dataclass(frozen=True)
class Call:
    """One HTTP request and how to treat its failures."""

    method: str
    url: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes | IO[bytes], str]] | None = None
    headers: Mapping[str, str] | None = None
    #: Safe to send again after the connection broke mid-request (the server may have
    #: acted on it): reads, and submissions that carry an Idempotency-Key.
    idempotent: bool = False
    #: False for probes whose 503 is an answer, not a fault (``/readyz``).
    retry: bool = True
    #: Statuses that are answers, not errors.
    accept: frozenset[int] = frozenset()
    #: Where a successful response body goes (downloads); None reads it into memory.
    sink: Sink | None = None
    #: Replaces the client's timeout (event streams wait longer between reads).
    timeout: httpx.Timeout | None = None

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method,
            self.url,
            params=self.params,
            json=self.json,
            data=self.data,
            files=self.files,
            headers=self.headers,
            timeout=self.timeout if self.timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )


@dataclass(frozen=True)
class Send:
    call: Call


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Notify:
    callback: ProgressCallback
    job: Job


Step: TypeAlias = Send | Sleep | Notify
#: What a client sends back into an operation: a Send's response or network error.
Outcome: TypeAlias = httpx.Response | httpx.TransportError | None
Op: TypeAlias = Generator[Step, Outcome, T]
