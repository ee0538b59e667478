"""W+G as the worker runs them: eager on the CPU; on CUDA compiled and replayed as a CUDA
graph at a fixed batch, which must give the eager step's frames for any clip length."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from render_core.settings import Settings
from render_core.storage import LocalStore
from tests.conftest import SAMPLE_PORTRAIT
from workers.renderers.liveportrait.frame_step import (
    FrameStep,
    StepOptions,
    graph_sizes,
    pad_rows,
    pieces,
)
from workers.renderers.liveportrait.image_tensors import output_to_rgb
from workers.renderers.liveportrait.model import LivePortraitModel, SourceState
from workers.renderers.liveportrait.renderer import LivePortraitRenderer
from workers.renderers.liveportrait.source_crop import centred_square_crop

EAGER = StepOptions(half_precision=False, batch=4, compile=False, cuda_graphs=False)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def portrait_crop(side: int, shift: int = 0) -> torch.Tensor:
    portrait = np.asarray(Image.open(SAMPLE_PORTRAIT).convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(centred_square_crop(np.roll(portrait, shift, axis=1), side).image)


def nodding(state: SourceState, frames: int) -> torch.Tensor:
    """Distinct keypoints per frame: the source's, shifted a little more each frame."""
    steps = torch.linspace(0.0, 0.05, frames, device=state.x_s.device)
    return state.x_s + steps[:, None, None]


def psnr_db(actual: torch.Tensor, expected: torch.Tensor) -> float:
    error = (actual.double() - expected.double()) / 255.0
    return float(-10.0 * torch.log10(error.square().mean().clamp_min(1e-12)))


def test_pad_rows_repeats_the_last_row() -> None:
    rows = torch.arange(6.0).reshape(3, 2)
    padded = pad_rows(rows, 5)
    assert padded.shape == (5, 2)
    assert padded[3:].tolist() == [[4.0, 5.0], [4.0, 5.0]]
    assert pad_rows(rows, 3) is rows


def test_a_clip_is_cut_into_captured_batch_sizes() -> None:
    assert graph_sizes(16) == (16, 4) and graph_sizes(4) == (4,)
    assert graph_sizes(16, first=1) == (16, 4, 1) and graph_sizes(16, first=4) == (16, 4)
    assert graph_sizes(16, first=16) == (16, 4)
    # 50 frames: three full batches, then 2 frames in the small size (4 computed, not 16).
    assert pieces(50, (16, 4)) == [(0, 16, 16), (16, 16, 16), (32, 16, 16), (48, 2, 4)]
    # A rest over half a batch is one padded full batch; under it, small pieces.
    assert pieces(11, (16, 4)) == [(0, 11, 16)]
    assert pieces(7, (16, 4)) == [(0, 4, 4), (4, 3, 4)]
    assert pieces(3, (16,)) == [(0, 3, 16)]
    # A one-frame first batch replays the one-frame graph; two frames, it twice.
    assert pieces(1, (16, 4, 1)) == [(0, 1, 1)]
    assert pieces(2, (16, 4, 1)) == [(0, 1, 1), (1, 1, 1)]
    assert pieces(8, (16, 4, 1)) == [(0, 4, 4), (4, 4, 4)]
    for count, sizes in itertools.product(range(1, 40), [(16, 4), (16, 4, 1), (16, 4, 2)]):
        covered = [
            row for start, rows, _ in pieces(count, sizes) for row in range(start, start + rows)
        ]
        assert covered == list(range(count))


def test_on_the_cpu_the_step_is_the_eager_networks(synthetic_weights_dir: Path) -> None:
    """Compile and graphs are CUDA-only: asked for on the CPU, the step stays eager, takes
    any batch length unpadded and returns the networks' own frames as uint8."""
    model = LivePortraitModel.from_weights_dir(synthetic_weights_dir)
    options = StepOptions(half_precision=False, batch=2, compile=True, cuda_graphs=True)
    step = FrameStep(model, options)
    state = model.prepare_source(portrait_crop(128))
    x_d = nodding(state, 3)
    step.warm_up(state, x_d[:1])
    assert step.mode == "eager"
    with torch.inference_mode():
        frames = step(state, x_d)
        expected = output_to_rgb(model.render(state, x_d))
    assert frames.shape == (3, 256, 256, 3) and frames.dtype == torch.uint8
    torch.testing.assert_close(frames, expected, rtol=0, atol=0)


def test_a_source_of_the_other_precision_is_cast_not_refused(
    synthetic_weights_dir: Path,
) -> None:
    """The source cache is shared by fp16 and fp32 workers: an fp16 volume reaching an fp32
    step renders as its fp32 self would (up to the fp16 rounding of the volume)."""
    model = LivePortraitModel.from_weights_dir(synthetic_weights_dir)
    step = FrameStep(model, EAGER)
    state = model.prepare_source(portrait_crop(128))
    x_d = nodding(state, 2)
    step.warm_up(state, x_d[:1])
    half = SourceState(state.feature.half(), state.motion, state.x_s)
    with torch.inference_mode():
        expected = step(state, x_d)
        from_half = step(half, x_d)
    assert from_half.dtype == torch.uint8
    assert psnr_db(from_half, expected) > 40.0


@pytest.mark.gpu
@pytest.mark.timeout(600)  # compiling W+G with an empty inductor cache takes minutes
@needs_cuda
def test_compiled_graph_step_matches_the_eager_step(
    synthetic_weights_dir: Path, tmp_path: Path
) -> None:
    """The worker's setup compiles and captures both crop sides at batches 8 and 2 and the
    one-frame first batch; clips of 11, 6 and 3 frames (padded pieces of those sizes) and a
    second portrait (new graph inputs) come out as the eager step renders them, up to
    float16 rounding."""
    settings = Settings(
        renderer="liveportrait",
        weights_dir=synthetic_weights_dir,
        device="cuda:0",
        precision="fp16",
        frame_batch_size=8,
        first_batch_size=1,
        storage_url=tmp_path.as_uri(),
    )
    renderer = LivePortraitRenderer(settings, LocalStore(tmp_path))
    renderer.setup()
    step = renderer.frame_step
    assert step.mode == "compiled CUDA graphs x8/2/1"
    model = renderer.model
    eager = FrameStep(
        model, StepOptions(half_precision=True, batch=8, compile=False, cuda_graphs=False)
    )
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
        sources = [model.prepare_source(portrait_crop(side, shift)) for side, shift in
                   ((256, 0), (256, 40), (128, 0))]  # fmt: skip
    with torch.inference_mode():
        for state, frames in zip(sources, (11, 6, 3), strict=True):
            x_d = nodding(state, frames)
            replayed = step(state, x_d)
            expected = eager(state, x_d)
            assert replayed.shape == expected.shape == (frames, *expected.shape[1:])
            assert psnr_db(replayed, expected) > 40.0
        # Each portrait's frames are its own: the graph read the new source volume.
        first, second = (step(state, nodding(state, 1)) for state in sources[:2])
        assert psnr_db(first, second) < 30.0
