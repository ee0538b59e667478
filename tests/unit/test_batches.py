"""A clip's batches: a small first one for an early first frame, then full ones."""

from __future__ import annotations

import pytest

from workers.pipeline import batch_ranges


@pytest.mark.parametrize(
    ("total", "size", "first", "expected"),
    [
        (50, 16, 4, [(0, 4), (4, 20), (20, 36), (36, 50)]),
        (50, 16, 0, [(0, 16), (16, 32), (32, 48), (48, 50)]),
        (3, 16, 4, [(0, 3)]),
        (10, 4, 8, [(0, 4), (4, 8), (8, 10)]),  # never more than a full batch
        (0, 16, 4, []),
    ],
)
def test_batches_cover_the_clip_once_in_order(
    total: int, size: int, first: int, expected: list[tuple[int, int]]
) -> None:
    ranges = batch_ranges(total, size, first)
    assert [(r.start, r.stop) for r in ranges] == expected
    assert [i for r in ranges for i in r] == list(range(total))
