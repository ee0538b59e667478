"""W+G as a worker runs it: eager, or compiled and replayed as CUDA graphs of fixed batches.

W and G are almost all of a frame's GPU time. Eager, they are bound by kernel launches and
unfused elementwise work; compiled (inductor fuses the elementwise chains) and captured as
a CUDA graph (one launch a batch) the same batch takes about half the time on an H100.
A graph replays only the shapes it was captured for, so every batch is padded to one of
the captured sizes and the padding rows are dropped; capture happens at warm-up, per crop
side and size, so no compilation or capture ever runs inside a job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from workers.renderers.liveportrait.image_tensors import output_to_rgb
from workers.renderers.liveportrait.model import LivePortraitModel, SourceState
from workers.renderers.liveportrait.networks import CapturedStep, WarpDecode

log = logging.getLogger(__name__)

Shape = tuple[int, ...]


class _RgbWarpDecode(torch.nn.Module):
    """(feature, x_s, x_d) to (B, H, W, 3) uint8: the conversion fuses into the graph."""

    def __init__(self, warp_decode: WarpDecode) -> None:
        super().__init__()
        self.warp_decode = warp_decode

    def forward(self, feature: torch.Tensor, x_s: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        return output_to_rgb(self.warp_decode(feature, x_s, x_d))


@dataclass(frozen=True)
class StepOptions:
    """How W+G run: at most ``batch`` frames a call; compile and graphs only on CUDA.
    ``first_batch`` (0: none) is the size of a clip's small first batch, captured too."""

    half_precision: bool
    batch: int
    compile: bool
    cuda_graphs: bool
    first_batch: int = 0


def pad_rows(rows: torch.Tensor, count: int) -> torch.Tensor:
    """``rows`` with its last row repeated up to ``count`` rows (a no-op when full)."""
    missing = count - rows.shape[0]
    if missing <= 0:
        return rows
    return torch.cat([rows, rows[-1:].expand(missing, *rows.shape[1:])])


def graph_sizes(batch: int, first: int = 0) -> tuple[int, ...]:
    """The batch sizes captured, largest first: the full batch, a quarter of it for a
    clip's last few frames (a 50-frame clip at batch 16 ends with 2 frames: 4 computed, not
    16) and the clip's first batch, so its first frames replay a graph of their own size."""
    quarter = batch // 4
    sizes = {batch, quarter} if quarter >= 2 else {batch}
    if 0 < first < batch:
        sizes.add(first)
    return tuple(sorted(sizes, reverse=True))


def pieces(count: int, sizes: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(start, rows, size) pieces covering ``count`` rows: full batches, then the rest as one
    more padded full batch if it is over half of one, else in the size that computes the
    fewest padded rows (the larger on a tie: fewer replays)."""
    full = sizes[0]
    out: list[tuple[int, int, int]] = []
    start = 0
    while count - start >= full:
        out.append((start, full, full))
        start += full
    rest = count - start
    size = full if rest > full // 2 else min(sizes, key=lambda s: (-(-rest // s) * s, -s))
    while start < count:
        rows = min(size, count - start)
        out.append((start, rows, size))
        start += rows
    return out


class FrameStep:
    """Stitched driving keypoints (B, 21, 3) to uint8 crop frames (B, 2h, 2w, 3)."""

    def __init__(self, model: LivePortraitModel, options: StepOptions) -> None:
        self.options = options
        on_cuda = model.device.type == "cuda"
        step = _RgbWarpDecode(
            WarpDecode(model.warping, model.generator, half_precision=options.half_precision)
        )
        self._eager = step
        self._compiled = on_cuda and options.compile
        self._run: torch.nn.Module = (
            torch.compile(step, dynamic=False)  # type: ignore[assignment]
            if self._compiled
            else step
        )
        self._use_graphs = on_cuda and options.cuda_graphs
        self._sizes = graph_sizes(options.batch, options.first_batch)
        self._graphs: dict[tuple[Shape, int], CapturedStep[torch.Tensor]] = {}
        self._feature_dtypes: dict[Shape, torch.dtype] = {}

    @property
    def _fixed_shapes(self) -> bool:
        # A compiled step would recompile for every new batch length; a graph has one.
        return self._compiled or self._use_graphs

    @property
    def mode(self) -> str:
        """What runs, for logs and the renderer's description."""
        parts = ["compiled" if self._compiled else "eager"]
        if self._graphs:
            parts.append("CUDA graphs x" + "/".join(str(size) for size in self._sizes))
        return " ".join(parts)

    def warm_up(self, state: SourceState, x_d: torch.Tensor) -> None:
        """Compile and capture every batch size for ``state``'s crop side before any job
        needs them.

        A failure to compile (no C compiler for Triton, an unsupported op) falls back to
        the eager step rather than leaving the worker down; a graph that cannot be captured
        (out of memory) leaves that size uncaptured. Both are logged."""
        self._feature_dtypes[_shape(state)] = state.feature.dtype
        if not self._fixed_shapes:
            self._eager(state.feature, state.x_s, x_d)
            return
        for size in self._sizes:
            rows = pad_rows(x_d, size)
            try:
                self._run(state.feature, state.x_s, rows)
            except Exception as exc:  # any compiler failure: the eager step still renders
                if not self._compiled:
                    raise
                log.warning("compiling W+G failed, rendering eagerly: %s", exc)
                self._compiled = False
                self._run = self._eager
            if not self._use_graphs:
                continue
            try:
                captured = CapturedStep(self._run, [state.feature, state.x_s, rows])
            except torch.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                log.warning("no memory to capture W+G at batch %d: %s", size, exc)
                continue
            self._graphs[_shape(state), size] = captured

    def __call__(self, state: SourceState, x_d: torch.Tensor) -> torch.Tensor:
        feature = self._feature(state)
        if not self._fixed_shapes:
            frames: torch.Tensor = self._eager(feature, state.x_s, x_d)
            return frames
        chunks = []
        for start, count, size in pieces(x_d.shape[0], self._sizes):
            padded = pad_rows(x_d[start : start + count], size)
            graph = self._graphs.get((_shape(state), size))
            if graph is None:
                chunks.append(self._run(feature, state.x_s, padded)[:count])
            else:
                # The graph's output buffer is overwritten by the next replay: copy rows out.
                chunks.append(graph(feature, state.x_s, padded)[:count].clone())
        return torch.cat(chunks)

    def _feature(self, state: SourceState) -> torch.Tensor:
        """The source volume in the dtype its side was warmed up with: a cached source
        written by a worker of the other precision must neither fail nor recompile."""
        dtype = self._feature_dtypes.get(_shape(state), state.feature.dtype)
        return state.feature.to(dtype)


def _shape(state: SourceState) -> Shape:
    return tuple(state.feature.shape)
