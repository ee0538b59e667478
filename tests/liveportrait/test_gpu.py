"""The networks on CUDA: float32 (TF32 off) within the CPU goldens' tolerances, the float16
production path by PSNR, and the CUDA-graph replay of the per-frame step (full size)."""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import assert_close_to_golden, golden
from tests.liveportrait.test_networks import IMAGES, WARP_KEYS, golden_tensor, image_tensor
from workers.renderers.liveportrait.networks import (
    CHECKPOINT_FILES,
    AppearanceFeatureExtractor,
    CapturedStep,
    MotionExtractor,
    SpadeGenerator,
    WarpDecode,
    WarpingNetwork,
    build_network,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    pytest.mark.usefixtures("strict_float32"),
]

CUDA = torch.device("cuda")
FULL = ""
MIN_HALF_PRECISION_PSNR_DB = 45.0
"""Upstream's own float16 path measured 51 dB against these goldens (README, Tolerances)."""

NetworkT = TypeVar("NetworkT", bound=torch.nn.Module)
RuleWeights = dict[str, dict[str, np.ndarray]]


def on_gpu(network_class: type[NetworkT], rule_weights: RuleWeights) -> NetworkT:
    network = build_network(network_class, rule_weights[CHECKPOINT_FILES[network_class]])
    return network.to(CUDA)


@pytest.fixture(scope="module")
def warping(rule_weights: RuleWeights) -> WarpingNetwork:
    return on_gpu(WarpingNetwork, rule_weights)


@pytest.fixture(scope="module")
def generator(rule_weights: RuleWeights) -> SpadeGenerator:
    return on_gpu(SpadeGenerator, rule_weights)


def warp_inputs(batch_order: tuple[str, ...] = ("kp_driving",)) -> list[torch.Tensor]:
    """Golden feature and source keypoints (batch 1) and driving keypoints in the given order."""
    drivings = torch.cat([golden_tensor("warping_module", key) for key in batch_order])
    return [
        golden_tensor("appearance_feature_extractor", "out").to(CUDA),
        golden_tensor("warping_module", "kp_source").to(CUDA),
        drivings.to(CUDA),
    ]


def psnr_db(image: torch.Tensor, reference: np.ndarray) -> float:
    mse = float(np.mean((image.cpu().numpy().astype(np.float64) - reference) ** 2))
    return 10 * math.log10(1 / mse)


def assert_frame_matches_golden(frame: torch.Tensor, half_precision: bool) -> None:
    """float32: the golden's atol; float16: the PSNR floor against the float32 golden."""
    if half_precision:
        assert psnr_db(frame, golden("spade_generator")["out"]) >= MIN_HALF_PRECISION_PSNR_DB
    else:
        assert_close_to_golden(frame.cpu(), "spade_generator", "out")


def test_float32_appearance_feature_extractor(rule_weights: RuleWeights) -> None:
    network = on_gpu(AppearanceFeatureExtractor, rule_weights)
    volume = network(image_tensor("source", FULL).to(CUDA))
    assert_close_to_golden(volume.cpu(), "appearance_feature_extractor", "out")


def test_float32_motion_extractor(rule_weights: RuleWeights) -> None:
    network = on_gpu(MotionExtractor, rule_weights)
    heads = network(torch.cat([image_tensor(image, FULL) for image in IMAGES]).to(CUDA))
    for row, image in enumerate(IMAGES):
        for field in heads._fields:
            value = getattr(heads, field)[row : row + 1].cpu()
            assert_close_to_golden(value, "motion_extractor", f"{image}_{field}")


def test_float32_warping_network(warping: WarpingNetwork) -> None:
    result = warping(*warp_inputs())
    for key in WARP_KEYS:
        assert_close_to_golden(getattr(result, key).cpu(), "warping_module", key)


def test_float32_spade_generator(generator: SpadeGenerator) -> None:
    image = generator(golden_tensor("warping_module", "out").to(CUDA))
    assert_close_to_golden(image.cpu(), "spade_generator", "out")


def test_half_precision_warp_then_generate_keeps_psnr(
    warping: WarpingNetwork, generator: SpadeGenerator
) -> None:
    step = WarpDecode(warping, generator, half_precision=True)
    image = step(*warp_inputs())
    assert image.dtype == torch.float32
    assert_frame_matches_golden(image, half_precision=True)


@pytest.mark.parametrize("half_precision", [False, True], ids=["fp32", "fp16"])
def test_cuda_graph_replays_the_per_frame_step(
    warping: WarpingNetwork, generator: SpadeGenerator, half_precision: bool
) -> None:
    """A batch of two frames sharing one source volume, captured once and replayed with
    the frames in both orders: the golden frame must follow its row."""
    step = WarpDecode(warping, generator, half_precision=half_precision)
    captured = CapturedStep(step, warp_inputs(("kp_driving", "kp_source")))
    for order, golden_row in ((("kp_driving", "kp_source"), 0), (("kp_source", "kp_driving"), 1)):
        inputs = warp_inputs(order)
        replayed = captured(*inputs).clone()
        assert_frame_matches_golden(replayed[golden_row : golden_row + 1], half_precision)
        eager = step(*inputs)
        # Same kernels, same inputs: the replay reproduces the eager step.
        torch.testing.assert_close(replayed, eager, rtol=0, atol=1e-5)
    # Captured under inference mode (this test's fixture), replayable outside it too.
    with torch.inference_mode(False), torch.no_grad():
        outside = captured(*warp_inputs(("kp_source", "kp_driving")))
    torch.testing.assert_close(outside, replayed, rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:TensorFloat32 tensor cores:UserWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch")  # inductor imports torch.jit
@pytest.mark.parametrize("half_precision", [False, True], ids=["fp32", "fp16"])
def test_torch_compiled_per_frame_step(
    warping: WarpingNetwork, generator: SpadeGenerator, half_precision: bool
) -> None:
    """The fastest path the benchmark found (inductor fuses G's norm and modulation
    arithmetic) still renders the golden frame; compiling costs about a minute."""
    step = torch.compile(WarpDecode(warping, generator, half_precision=half_precision))
    assert_frame_matches_golden(step(*warp_inputs()), half_precision)
