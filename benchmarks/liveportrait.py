"""Speed of our LivePortrait networks: per module and per output frame, eager and CUDA graphs.

Per frame means the work every output frame costs once the source portrait and the
driving reference are prepared: W+G (an emotion preset, where keypoints are computed),
and M+S+W+G (a driving video: motion extractor on the driving frame, keypoint maths,
stitching MLP, warp and decode). Times are CUDA-event medians after warm-up (wall clock
on CPU); per-frame figures divide a batch's time by its size.

    python -m benchmarks.liveportrait                  # CUDA: batches 1, 8, 16; fp32, fp16
    python -m benchmarks.liveportrait --quick          # CPU smoke check, under a minute
    python -m benchmarks.liveportrait --weights DIR    # real checkpoints instead of the rule

fp32 here means PyTorch's defaults (TF32 convolutions on); fp16 is autocast, as upstream.
Fastest found on an H100: ``--compile --precisions fp16`` in graph mode (inductor fuses
G's normalisation arithmetic; compiling costs ~30-60 s per batch size and precision).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from workers.renderers.liveportrait.keypoints import MotionState, transform_keypoints
from workers.renderers.liveportrait.manifest import file_specs
from workers.renderers.liveportrait.model import LivePortraitModel, SourceState, WeightsIdentity
from workers.renderers.liveportrait.networks import CapturedStep, WarpDecode, to_channels_last
from workers.renderers.liveportrait.weight_rule import rule_tensors

PRECISIONS = ("fp32", "fp16")
NETWORK_LETTERS = ("F", "M", "W", "G")
MODES = ("eager", "graph")


@dataclass(frozen=True)
class Row:
    mode: str
    precision: str
    batch: int
    module_ms: dict[str, float]
    warp_decode_ms: float
    driven_frame_ms: float
    peak_gib: float | None


def load_model(
    weights_dir: Path | None, device: torch.device, channels_last: set[str]
) -> LivePortraitModel:
    """The worker's model: real checkpoints, or the kit's rule weights straight from memory."""
    if weights_dir is None:
        rule = {spec.file: rule_tensors(spec) for spec in file_specs()}
        model = LivePortraitModel.from_weights(rule, WeightsIdentity("rule", True), device)
    else:
        model = LivePortraitModel.from_weights_dir(weights_dir, device)
    networks = {
        "F": model.appearance,
        "M": model.motion_extractor,
        "W": model.warping,
        "G": model.generator,
    }
    for letter in channels_last:
        to_channels_last(networks[letter])
    return model


def autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(
        device_type=device.type,
        dtype=torch.float16,
        enabled=precision == "fp16",
        cache_enabled=False,
    )


def median_ms(run: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        run()
    samples: list[float] = []
    for _ in range(repeats):
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            start.record()
            run()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            began = time.perf_counter()
            run()
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


class DrivenFrame(torch.nn.Module):
    """One batch of output frames from a batch of driving images: M and the keypoint maths
    and stitching as the model runs them (``LivePortraitModel.driven_keypoints``), then W+G."""

    def __init__(
        self,
        model: LivePortraitModel,
        precision: str,
        source: SourceState,
        reference: MotionState,
        compile_warp_decode: bool,
    ) -> None:
        super().__init__()
        self.model = model
        self.precision = precision
        warp_decode = WarpDecode(model.warping, model.generator, half_precision=precision == "fp16")
        self.warp_decode = torch.compile(warp_decode) if compile_warp_decode else warp_decode
        self.source = source
        self.reference = reference

    def forward(self, driving: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        # In inference mode throughout, as the worker warms up and renders (the model's
        # keypoint methods return inference tensors).
        with torch.inference_mode():
            with autocast(driving.device, self.precision):
                motion = self.model.decoded_motion(driving)
            x_d = self.model.driven_keypoints(self.source, self.reference, motion)
            result: torch.Tensor = self.warp_decode(feature, self.source.x_s, x_d)
        return result


def measure(
    model: LivePortraitModel,
    mode: str,
    precision: str,
    batch: int,
    size: int,
    args: argparse.Namespace,
) -> Row:
    device: torch.device = args.device
    generator = torch.Generator(device="cpu").manual_seed(batch)
    images = torch.rand(batch + 1, 3, size, size, generator=generator).to(device)
    source, drivings = images[:1], images[1:]

    def timed(run: Callable[[], object]) -> float:
        return median_ms(run, device, args.warmup, args.repeats)

    with torch.inference_mode() if mode == "eager" else torch.no_grad():
        source_motion = model.decoded_motion(source)
        x_s = transform_keypoints(source_motion)
        feature = model.appearance(source)
        state = SourceState(feature, source_motion, x_s)
        frame_step = DrivenFrame(model, precision, state, source_motion, args.compile)
        x_d = x_s + 0.02 * torch.randn(batch, *x_s.shape[1:], generator=generator).to(device)
        warped = model.warping(feature, x_s, x_d).out
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

        module_ms: dict[str, float] = {}
        if mode == "eager":
            with autocast(device, precision):
                module_ms["F"] = timed(lambda: model.appearance(drivings))
                module_ms["M"] = timed(lambda: model.motion_extractor(drivings))
                module_ms["W"] = timed(lambda: model.warping(feature, x_s, x_d))
                module_ms["G"] = timed(lambda: model.generator(warped))
            warp_decode_ms = timed(lambda: frame_step.warp_decode(feature, x_s, x_d))
            driven_ms = timed(lambda: frame_step(drivings, feature))
        else:
            warp_decode = CapturedStep(frame_step.warp_decode, [feature, x_s, x_d])
            warp_decode_ms = timed(lambda: warp_decode(feature, x_s, x_d))
            driven = CapturedStep(frame_step, [drivings, feature])
            driven_ms = timed(lambda: driven(drivings, feature))
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return Row(mode, precision, batch, module_ms, warp_decode_ms / batch, driven_ms / batch, peak)


def markdown_table(rows: list[Row], device_name: str) -> str:
    lines = [
        f"{device_name}; ms per batch for modules, ms per frame for the steps",
        "",
        "| mode | precision | batch | F | M | W | G | W+G /frame | M+S+W+G /frame | peak GiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        peak = "-" if row.peak_gib is None else f"{row.peak_gib:.2f}"
        modules = [
            f"{row.module_ms[name]:.2f}" if name in row.module_ms else "-" for name in "FMWG"
        ]
        lines.append(
            f"| {row.mode} | {row.precision} | {row.batch} | {' | '.join(modules)} | "
            f"{row.warp_decode_ms:.2f} | {row.driven_frame_ms:.2f} | {peak} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--weights", type=Path, help="weights directory (default: rule weights)")
    parser.add_argument("--device", type=torch.device, default=None)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, help="default: all on CUDA")
    parser.add_argument("--modes", nargs="+", choices=MODES, help="default: all on CUDA")
    parser.add_argument("--size", type=int, default=256, help="input image side (W needs >= 128)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN autotune")
    parser.add_argument(
        "--channels-last",
        nargs="*",
        choices=NETWORK_LETTERS,
        default=None,
        help="networks whose convolution kernels are stored NHWC / NDHWC (no letter: all)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the W+G step (once per shape)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: 128 px, batch 1, fp32 eager, one run"
    )
    args = parser.parse_args(argv)
    if args.channels_last is None:
        args.channels_last = []
    elif not args.channels_last:
        args.channels_last = list(NETWORK_LETTERS)
    if args.device is None:
        args.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_cuda = args.device.type == "cuda"
    args.precisions = args.precisions or (list(PRECISIONS) if on_cuda else ["fp32"])
    args.modes = args.modes or (list(MODES) if on_cuda else ["eager"])
    if args.quick:
        args.size, args.batches, args.warmup, args.repeats = 128, [1], 0, 1
        args.precisions, args.modes = ["fp32"], ["eager"]
    if not on_cuda and ({"fp16", "graph"} & {*args.precisions, *args.modes}):
        parser.error("fp16 and graph need CUDA; use --quick (or fp32 eager) on the CPU")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    model = load_model(args.weights, args.device, set(args.channels_last))
    rows = []
    for precision in args.precisions:
        for mode in args.modes:
            for batch in args.batches:
                row = measure(model, mode, precision, batch, args.size, args)
                rows.append(row)
                print(
                    f"{mode} {precision} batch {batch}: W+G {row.warp_decode_ms:.2f} ms/frame, "
                    f"M+S+W+G {row.driven_frame_ms:.2f} ms/frame",
                    flush=True,
                )
    device_name = (
        torch.cuda.get_device_name(args.device)
        if args.device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print()
    options = [
        name
        for name, enabled in (
            (f"channels-last {''.join(args.channels_last)}", args.channels_last),
            ("cudnn benchmark", args.cudnn_benchmark),
            ("torch.compile W+G", args.compile),
        )
        if enabled
    ]
    setup = [device_name, f"torch {torch.__version__}", f"{args.size} px input", *options]
    print(markdown_table(rows, ", ".join(setup)))


if __name__ == "__main__":
    main()
