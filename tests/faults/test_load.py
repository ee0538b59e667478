"""The load benchmark at a CI-sized count: every job submitted concurrently succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.queue_load import run_load, table

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_one_hundred_concurrent_jobs_all_succeed(tmp_path: Path) -> None:
    result = run_load(jobs=100, concurrency=16, workers=2, api_workers=1, root=tmp_path)
    assert result.succeeded == result.jobs == 100
    assert len(result.end_to_end_ms) == 100 and min(result.end_to_end_ms) > 0
    assert result.raw_send_per_s > 0
    # the CPU each role used was read from /proc: the API and this process did work
    assert result.cpu_ms_per_job["API"] > 0 and result.raw_cpu_ms_per_send["sender"] > 0
    assert "| jobs submitted / succeeded | 100 / 100 |" in table(result)
