"""Settings come from RENDER_* variables; defaults that depend on the machine are bounded."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from render_core.settings import Settings, usable_cpus


def test_encode_threads_default_to_the_usable_cpus_at_most_8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RENDER_ENCODE_THREADS", raising=False)
    assert Settings().encode_threads == min(8, len(os.sched_getaffinity(0)))
    assert usable_cpus(cap=1) == 1


def test_encode_threads_come_from_the_environment_and_are_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RENDER_ENCODE_THREADS", "3")
    assert Settings().encode_threads == 3
    monkeypatch.setenv("RENDER_ENCODE_THREADS", "0")
    with pytest.raises(ValidationError, match="encode_threads"):
        Settings()


def test_compile_and_graph_switches_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().torch_compile and Settings().cuda_graphs
    monkeypatch.setenv("RENDER_TORCH_COMPILE", "false")
    monkeypatch.setenv("RENDER_CUDA_GRAPHS", "0")
    settings = Settings()
    assert not settings.torch_compile and not settings.cuda_graphs
