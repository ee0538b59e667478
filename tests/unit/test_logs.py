"""JSON log lines and the job context that tags them."""

from __future__ import annotations

import json
import logging
import sys
import threading

from render_core.logs import JsonFormatter, job_context


def _record(message: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("workers.pipeline", level, __file__, 1, message, args, None)


def test_a_line_outside_an_attempt_has_null_job_fields() -> None:
    line = json.loads(JsonFormatter().format(_record("rendered %d frames", 10)))
    assert line["message"] == "rendered 10 frames"
    assert line["level"] == "INFO" and line["logger"] == "workers.pipeline"
    assert line["ts"].endswith("+00:00")
    assert (line["job_id"], line["tenant"], line["attempt"]) == (None, None, None)


def test_lines_inside_job_context_carry_the_job_until_it_ends() -> None:
    formatter = JsonFormatter()
    with job_context("job-1", "tenant-a", 2):
        inside = json.loads(formatter.format(_record("working")))
        with job_context("job-2", "tenant-b", 1):
            nested = json.loads(formatter.format(_record("nested")))
        back = json.loads(formatter.format(_record("back")))
    after = json.loads(formatter.format(_record("after")))
    assert (inside["job_id"], inside["tenant"], inside["attempt"]) == ("job-1", "tenant-a", 2)
    assert nested["job_id"] == "job-2" and back["job_id"] == "job-1"
    assert after["job_id"] is None


def test_another_thread_does_not_see_this_threads_job() -> None:
    seen: list[object] = []
    formatter = JsonFormatter()

    def log_elsewhere() -> None:
        seen.append(json.loads(formatter.format(_record("heartbeat")))["job_id"])

    with job_context("job-1", "tenant-a", 1):
        thread = threading.Thread(target=log_elsewhere)
        thread.start()
        thread.join(timeout=5)
    assert seen == [None]


def test_exceptions_are_kept_in_one_line() -> None:
    try:
        raise ValueError("bad frame")
    except ValueError:
        record = _record("failed", level=logging.ERROR)
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: bad frame" in json.loads(text)["exc"]
