"""Retry timing: exponential backoff with full jitter, capped."""

from __future__ import annotations

from workers.outcome import backoff_delay


def test_backoff_is_jittered_exponential_and_capped() -> None:
    for attempts, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (10, 3.0)):
        delays = [backoff_delay(attempts, 0.5, 3.0) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.5  # jitter spreads over the range
