from __future__ import annotations

from workers.envelope import envelope, intensity_at


def test_a_clip_eases_in_holds_and_eases_out() -> None:
    weights = [envelope(50, i) for i in range(50)]
    assert weights[0] == 0.0 and weights[-1] == 0.0
    assert max(weights) == 1.0
    peak = weights.index(1.0)
    assert all(a <= b for a, b in zip(weights[: peak + 1], weights[1 : peak + 1], strict=False))
    assert weights[25] == 1.0  # held in the middle
    assert all(0.0 <= w <= 1.0 for w in weights)


def test_intensity_scales_the_curve() -> None:
    assert intensity_at(0.5, 50, 25) == 0.5
    assert intensity_at(0.0, 50, 25) == 0.0


def test_very_short_clips_show_the_emotion() -> None:
    assert envelope(1, 0) == 1.0
    assert [envelope(2, i) for i in range(2)] == [1.0, 1.0]
