"""Log lines as JSON, each tagged with the job being rendered when there is one.

Log collectors parse one JSON object a line without per-service patterns, and every line
written during a render attempt carries its job id, tenant and attempt, so one job's
story can be pulled out of many workers' logs. The pipeline sets the job fields for the
length of an attempt with ``job_context``; a context variable keeps them right per
thread and per asyncio task.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from render_core.settings import Settings

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Libraries that install their own handlers; their lines go through ours instead.
SELF_CONFIGURED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
QUIET_LOGGERS = ("httpx",)


@dataclass(frozen=True)
class JobLogContext:
    job_id: str
    tenant: str
    attempt: int


_current_job: ContextVar[JobLogContext | None] = ContextVar("current_job", default=None)


@contextmanager
def job_context(job_id: str, tenant: str, attempt: int) -> Iterator[JobLogContext]:
    """Tag every log line written inside the block with this job attempt."""
    context = JobLogContext(job_id=job_id, tenant=tenant, attempt=attempt)
    token = _current_job.set(context)
    try:
        yield context
    finally:
        _current_job.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; the job fields are null outside an attempt."""

    def format(self, record: logging.LogRecord) -> str:
        job = _current_job.get()
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": job.job_id if job else None,
            "tenant": job.tenant if job else None,
            "attempt": job.attempt if job else None,
            "process": record.processName,
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Send every logger to one stderr handler, JSON lines unless ``log_json`` is off.

    Safe to call again (the API factory does, after uvicorn configured its loggers, and
    in each process uvicorn spawns): the root handlers are replaced, not added to.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_json else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings become log lines too, not stray stderr text
    for name in SELF_CONFIGURED_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
