"""The worker's Prometheus listener: what each pipeline event counts, and GPU memory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workers.metrics import PrometheusEvents


def _value(events: PrometheusEvents, name: str, **labels: str) -> float:
    value = events.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


def test_events_count_frames_attempts_and_cache_results() -> None:
    events = PrometheusEvents()
    events.frames_rendered(4, 0.4)
    events.frames_rendered(2, 0.1)
    events.source_prepared(cache_hit=False, seconds=0.2)
    events.source_prepared(cache_hit=True, seconds=0.01)
    events.attempt_finished("succeeded")
    events.model_loaded(3.5)
    assert _value(events, "avatar_render_worker_frames_rendered_total") == 6
    assert _value(events, "avatar_render_worker_frame_seconds_count") == 6
    assert _value(events, "avatar_render_worker_frame_seconds_sum") == pytest.approx(0.5)
    # Four frames at 0.1 s and two at 0.05 s: all six are at most 0.1 s.
    assert _value(events, "avatar_render_worker_frame_seconds_bucket", le="0.1") == 6
    assert _value(events, "avatar_render_worker_sources_prepared_total", cache="hit") == 1
    assert _value(events, "avatar_render_worker_sources_prepared_total", cache="miss") == 1
    assert _value(events, "avatar_render_worker_attempts_total", outcome="succeeded") == 1
    assert _value(events, "avatar_render_worker_attempts_total", outcome="failed") == 0
    assert _value(events, "avatar_render_worker_model_load_seconds") == 3.5


def test_gpu_memory_reads_zero_and_leaves_cuda_alone_when_unused() -> None:
    """In a fresh process with torch imported but CUDA unused: a scrape must not start CUDA."""
    pytest.importorskip("torch")
    code = (
        "import torch; from prometheus_client import generate_latest; "
        "from workers.metrics import PrometheusEvents; events = PrometheusEvents(); "
        "generate_latest(events.registry); "
        "print(events.registry.get_sample_value("
        "'avatar_render_worker_gpu_memory_allocated_bytes'), torch.cuda.is_initialized())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["0.0", "False"]


@pytest.mark.gpu
def test_gpu_memory_follows_torch_allocations() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    events = PrometheusEvents()
    block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")
    allocated = _value(events, "avatar_render_worker_gpu_memory_allocated_bytes")
    assert allocated >= block.numel()
    assert _value(events, "avatar_render_worker_gpu_memory_reserved_bytes") >= allocated
    del block
