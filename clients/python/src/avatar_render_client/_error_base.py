"""The base of every exception this client raises (``errors`` holds the tree)."""

from __future__ import annotations

from typing import Any


def _restore(cls: type[AvatarRenderError], message: str, state: dict[str, Any]) -> Any:
    error = cls.__new__(cls, message)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AvatarRenderError(Exception):
    """Base of every error this client raises on purpose."""

    code: str = "error"
    http_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else type(self).code
        self.http_status = http_status if http_status is not None else type(self).http_status
        #: Seconds the server asked us to wait (``Retry-After``), when it said.
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"HTTP {self.http_status} " if self.http_status is not None else ""
        return f"{prefix}{self.code}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other constructor arguments; pickle (multiprocessing, task
        # queues) must still round-trip them.
        return (_restore, (type(self), self.message, dict(self.__dict__)))
