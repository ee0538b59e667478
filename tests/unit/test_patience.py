"""A claim waits out a short job-store outage instead of dropping the delivery."""

from __future__ import annotations

import pytest
import redis

from render_core.errors import QueueUnavailable
from workers.patience import patiently


def test_a_short_outage_is_waited_out_and_a_long_one_is_raised() -> None:
    slept: list[float] = []
    failures: list[Exception] = [QueueUnavailable("down"), redis.ConnectionError("refused")]

    def claim() -> str:
        if failures:
            raise failures.pop(0)
        return "claimed"

    assert patiently(claim, "job j", sleep=slept.append) == "claimed"
    assert slept == [0.2, 0.4]

    def never() -> str:
        raise QueueUnavailable("still down")

    with pytest.raises(QueueUnavailable):
        patiently(never, "job j", patience_s=0.0, sleep=slept.append)
