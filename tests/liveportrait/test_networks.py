"""Our F, M, W and G against the conformance kit's goldens (CPU, float32, rule weights).

The default run uses the ``s128_`` keys (128x128 input); full size is the slow tier.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TypeVar

import numpy as np
import pytest
import torch

from tests.liveportrait.conftest import assert_close_to_golden, golden, golden_atol
from workers.renderers.liveportrait.manifest import file_spec
from workers.renderers.liveportrait.networks import (
    CHECKPOINT_FILES,
    AppearanceFeatureExtractor,
    MotionExtractor,
    SpadeGenerator,
    WarpingNetwork,
    build_network,
    to_channels_last,
)

NetworkT = TypeVar("NetworkT", bound=torch.nn.Module)
RuleWeights = dict[str, dict[str, np.ndarray]]

IMAGES = ("source", "driving0", "driving1")
SMALL = "s128_"
FULL = ""
SIZES = [
    pytest.param(SMALL, id="s128"),
    pytest.param(FULL, id="full", marks=pytest.mark.slow),
]
WARP_KEYS = ("out", "occlusion_map", "deformation")


def input_key(image: str, prefix: str) -> str:
    """Key of an input image in ``inputs.npz``: ``source_rgb``, ``driving0_128_rgb``..."""
    if not prefix:
        return f"{image}_rgb"
    return "source128_rgb" if image == "source" else f"{image}_128_rgb"


def image_tensor(image: str, prefix: str) -> torch.Tensor:
    """(1, 3, H, W) float32 in [0, 1], as upstream's ``prepare_source`` builds it."""
    rgb = golden("inputs")[input_key(image, prefix)]
    return torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1).unsqueeze(0)


def golden_tensor(name: str, key: str) -> torch.Tensor:
    return torch.from_numpy(golden(name)[key])


def assert_batches_equal(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> None:
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=0, atol=atol)


def assert_batch_equals_single_runs(
    network: torch.nn.Module, inputs: list[torch.Tensor], atol: float
) -> None:
    """Row i of the batched output equals the output for input i alone."""
    batched = network(torch.cat(inputs))
    for row, single in enumerate(inputs):
        assert_batches_equal(batched[row : row + 1], network(single), atol)
    # Distinct rows, so a batch that repeated one row could not pass.
    assert not torch.equal(batched[0], batched[1])


@pytest.fixture(autouse=True)
def _no_grad() -> Iterator[None]:
    with torch.inference_mode():
        yield


def built(network_class: type[NetworkT], rule_weights: RuleWeights) -> NetworkT:
    return build_network(network_class, rule_weights[CHECKPOINT_FILES[network_class]])


@pytest.fixture(scope="module")
def appearance(rule_weights: RuleWeights) -> AppearanceFeatureExtractor:
    return built(AppearanceFeatureExtractor, rule_weights)


@pytest.fixture(scope="module")
def motion(rule_weights: RuleWeights) -> MotionExtractor:
    return built(MotionExtractor, rule_weights)


@pytest.fixture(scope="module")
def warping(rule_weights: RuleWeights) -> WarpingNetwork:
    return built(WarpingNetwork, rule_weights)


@pytest.fixture(scope="module")
def generator(rule_weights: RuleWeights) -> SpadeGenerator:
    return built(SpadeGenerator, rule_weights)


NETWORK_FIXTURES = {
    AppearanceFeatureExtractor: "appearance",
    MotionExtractor: "motion",
    WarpingNetwork: "warping",
    SpadeGenerator: "generator",
}


@pytest.mark.parametrize("network_class", list(NETWORK_FIXTURES))
def test_state_dict_keys_and_shapes_are_the_checkpoints(
    network_class: type[torch.nn.Module], request: pytest.FixtureRequest
) -> None:
    """Every manifest tensor has a home; a spectral-norm triple becomes one plain ``weight``."""
    expected = {
        tensor.key.removesuffix("_orig"): tensor.shape
        for tensor in file_spec(CHECKPOINT_FILES[network_class]).tensors
        if not tensor.key.endswith(("weight_u", "weight_v"))
    }
    network = request.getfixturevalue(NETWORK_FIXTURES[network_class])
    actual = {key: tuple(value.shape) for key, value in network.state_dict().items()}
    assert actual == expected


@pytest.mark.parametrize("prefix", SIZES)
def test_appearance_feature_extractor_matches_golden(
    appearance: AppearanceFeatureExtractor, prefix: str
) -> None:
    volume = appearance(image_tensor("source", prefix))
    assert_close_to_golden(volume, "appearance_feature_extractor", f"{prefix}out")


@pytest.mark.parametrize("prefix", SIZES)
def test_motion_extractor_batch_of_three_matches_goldens(
    motion: MotionExtractor, prefix: str
) -> None:
    """One batch of the three images: every head of every row equals its own golden."""
    batch = torch.cat([image_tensor(image, prefix) for image in IMAGES])
    heads = motion(batch)
    for row, image in enumerate(IMAGES):
        for field in heads._fields:
            value = getattr(heads, field)[row : row + 1]
            assert_close_to_golden(value, "motion_extractor", f"{prefix}{image}_{field}")


@pytest.mark.parametrize("prefix", SIZES)
def test_warping_network_matches_golden(warping: WarpingNetwork, prefix: str) -> None:
    result = warping(
        golden_tensor("appearance_feature_extractor", f"{prefix}out"),
        golden_tensor("warping_module", f"{prefix}kp_source"),
        golden_tensor("warping_module", f"{prefix}kp_driving"),
    )
    for key in WARP_KEYS:
        assert_close_to_golden(getattr(result, key), "warping_module", f"{prefix}{key}")


@pytest.mark.parametrize("prefix", SIZES)
def test_spade_generator_matches_golden(generator: SpadeGenerator, prefix: str) -> None:
    image = generator(golden_tensor("warping_module", f"{prefix}out"))
    assert_close_to_golden(image, "spade_generator", f"{prefix}out")


def test_appearance_batch_of_two_equals_single_runs(
    appearance: AppearanceFeatureExtractor,
) -> None:
    # Fully convolutional: 64x64 crops exercise batching at a sixteenth of the cost.
    crops = [image_tensor(image, SMALL)[..., 32:96, 32:96] for image in ("source", "driving0")]
    atol = golden_atol("appearance_feature_extractor", f"{SMALL}out")
    assert_batch_equals_single_runs(appearance, crops, atol)


def test_warping_shares_one_source_volume_across_a_batch(warping: WarpingNetwork) -> None:
    """A batch-1 source volume and keypoints serve B driving keypoint sets, as a batch of B."""
    feature = golden_tensor("appearance_feature_extractor", f"{SMALL}out")
    kp_source = golden_tensor("warping_module", f"{SMALL}kp_source")
    kp_driving = golden_tensor("warping_module", f"{SMALL}kp_driving")
    # The second frame drives with the source's own keypoints (a distinct, valid motion).
    drivings = torch.cat([kp_driving, kp_source])

    shared = warping(feature, kp_source, drivings)
    for key in WARP_KEYS:
        assert_close_to_golden(getattr(shared, key)[:1], "warping_module", f"{SMALL}{key}")

    single = warping(feature, kp_source, kp_source)
    explicit = warping(feature.expand(2, -1, -1, -1, -1), kp_source.expand(2, -1, -1), drivings)
    for key in WARP_KEYS:
        atol = golden_atol("warping_module", f"{SMALL}{key}")
        assert_batches_equal(getattr(shared, key)[1:], getattr(single, key), atol)
        assert_batches_equal(getattr(explicit, key), getattr(shared, key), atol)


def test_generator_batch_of_two_equals_single_runs(generator: SpadeGenerator) -> None:
    # Fully convolutional: 8x8 crops exercise batching at a sixteenth of the s128 cost.
    feature = golden_tensor("warping_module", f"{SMALL}out")
    crops = [feature[..., :8, :8], feature[..., 16:24, 16:24]]
    atol = golden_atol("spade_generator", f"{SMALL}out")
    assert_batch_equals_single_runs(generator, crops, atol)


def kernel_layouts(network: torch.nn.Module) -> set[bool]:
    """For each convolution: is its kernel stored channels-last (NHWC / NDHWC)?"""
    found = set()
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            found.add(module.weight.is_contiguous(memory_format=torch.channels_last))
        elif isinstance(module, torch.nn.Conv3d):
            found.add(module.weight.is_contiguous(memory_format=torch.channels_last_3d))
    return found


def test_channels_last_kernels_give_the_same_results(
    appearance: AppearanceFeatureExtractor, generator: SpadeGenerator
) -> None:
    """The eager GPU fast path stores kernels NHWC (and NDHWC for F's 3-D blocks); the
    arithmetic must not change. Small crops keep this cheap on the CPU."""
    image = image_tensor("source", SMALL)[..., 32:96, 32:96]
    warped = golden_tensor("warping_module", f"{SMALL}out")[..., :8, :8]
    cases = (
        (appearance, image, "appearance_feature_extractor"),
        (generator, warped, "spade_generator"),
    )
    for network, network_input, golden_file in cases:
        fast = to_channels_last(copy.deepcopy(network))
        assert kernel_layouts(fast) == {True}
        atol = golden_atol(golden_file, f"{SMALL}out")
        assert_batches_equal(fast(network_input), network(network_input), atol)
