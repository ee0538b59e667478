"""The LivePortrait renderer on the CPU with the kit's synthetic weights, at size 256 (the
networks' cheap 128 px crop path): what a worker process does between setup and frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from producer_api.faces.loading import load_face_detector
from producer_api.faces.portrait import locate_face
from render_core import keys
from render_core.emotions import Emotion
from render_core.errors import (
    ConfigurationError,
    GpuOutOfMemory,
    PermanentRenderError,
    WeightsError,
)
from render_core.schema import Character, RenderRequest
from render_core.settings import Settings
from render_core.storage import LocalStore
from tests.conftest import SAMPLE_PORTRAIT, child_env
from tests.videos import write_video
from workers.renderer import Frame
from workers.renderers.liveportrait.driving_motion import DrivingMotion, DrivingMotionCache
from workers.renderers.liveportrait.fingerprint import weights_fingerprint
from workers.renderers.liveportrait.image_tensors import output_to_rgb
from workers.renderers.liveportrait.keypoints import MotionState
from workers.renderers.liveportrait.oom_fallback import render_halving_on_oom
from workers.renderers.liveportrait.pasteback import paste_back
from workers.renderers.liveportrait.renderer import LivePortraitRenderer, LivePortraitSource
from workers.renderers.liveportrait.source_cache import SourceCache, SourceKey
from workers.renderers.liveportrait.source_crop import centred_square_crop
from workers.renderers.registry import load_renderer

SMALL = 256  # frames of a 128 px crop
THREE_FRAMES: dict[str, Any] = {"duration_ms": 200, "fps": 15, "size": SMALL}


def settings_for(weights_dir: Path, storage: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "renderer": "liveportrait",
        "weights_dir": weights_dir,
        "device": "cpu",
        "storage_url": storage.as_uri(),
        **changes,
    }
    return Settings(**values)  # type: ignore[arg-type]


def assert_same_image(actual: Frame, expected: Frame) -> None:
    """Equal up to batch-size arithmetic: the CPU kernels sum in a different order for a
    batch of 3 than for 1, which moves a few values by one level."""
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.005, (diff.max(), (diff > 0).mean())


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lp_storage")


@pytest.fixture(scope="module")
def renderer(synthetic_weights_dir: Path, storage: Path) -> LivePortraitRenderer:
    loaded = load_renderer(settings_for(synthetic_weights_dir, storage), LocalStore(storage))
    assert isinstance(loaded, LivePortraitRenderer)
    loaded.setup()
    return loaded


@pytest.fixture(scope="module")
def portrait() -> Frame:
    return np.asarray(Image.open(SAMPLE_PORTRAIT).convert("RGB"), dtype=np.uint8)


def character(character_id: str, portrait: Frame) -> Character:
    height, width = portrait.shape[:2]
    return Character(
        id=character_id,
        tenant="t",
        name=None,
        width=width,
        height=height,
        portrait_key=f"characters/{character_id}/portrait.png",
        portrait_sha256="0" * 64,
    )


@pytest.fixture(scope="module")
def source(renderer: LivePortraitRenderer, portrait: Frame) -> LivePortraitSource:
    prepared = renderer.prepare(character("astronaut", portrait), portrait, SMALL)
    assert isinstance(prepared, LivePortraitSource)
    return prepared


@pytest.fixture(scope="module")
def neutral_frame(renderer: LivePortraitRenderer, source: LivePortraitSource) -> Frame:
    """The source's own keypoints through stitching, W and G: the portrait at rest."""
    state = source.state
    model = renderer.model
    frames = model.render(state, model.stitch(state.x_s, state.x_s))
    rest: Frame = paste_back(output_to_rgb(frames), source.paste_plan)[0].numpy()
    return rest


def test_frames_paste_the_face_back_into_the_portrait_square(
    renderer: LivePortraitRenderer, portrait: Frame, tmp_path: Path
) -> None:
    """With a registered face, only the face crop moves; the rest is the portrait itself."""
    face = locate_face(load_face_detector(tmp_path), portrait)
    subject = character("with-face", portrait).model_copy(update={"face": face})
    prepared = renderer.prepare(subject, portrait, SMALL)
    request = RenderRequest.model_validate(
        {"character_id": subject.id, "emotion": "surprised", "size": SMALL, "intensity": 1.0,
         "duration_ms": 400, "fps": 10}
    )  # fmt: skip
    (frame,) = renderer.render_batch(prepared, renderer.plan(request), range(2, 3))
    canvas = centred_square_crop(portrait, SMALL).image
    assert frame.shape == canvas.shape == (SMALL, SMALL, 3)
    box = face.box
    scale = SMALL / portrait.shape[0]
    below_the_crop = int(min(SMALL, (box.bottom + 1.2 * (box.bottom - box.top)) * scale))
    np.testing.assert_array_equal(frame[below_the_crop:], canvas[below_the_crop:])
    assert not np.array_equal(frame, canvas)  # the face itself is the network's


def test_describe_names_the_weights(
    renderer: LivePortraitRenderer, synthetic_weights_dir: Path
) -> None:
    described = renderer.describe()
    assert described.name == "liveportrait"
    assert described.weights_fingerprint == weights_fingerprint(synthetic_weights_dir)
    assert described.synthetic_weights is True
    assert described.device == "cpu fp32"
    assert described.precision == "fp32"  # part of the render cache's renderer key


def test_an_emotion_moves_the_face_and_rests_at_the_clip_ends(
    renderer: LivePortraitRenderer, source: LivePortraitSource, neutral_frame: Frame
) -> None:
    request = RenderRequest(
        character_id="astronaut", emotion=Emotion.surprised, intensity=1.0, **THREE_FRAMES
    )
    assert request.frame_count == 3
    frames = renderer.render_batch(source, renderer.plan(request), range(3))
    assert all(f.shape == (SMALL, SMALL, 3) and f.dtype == np.uint8 for f in frames)
    # The envelope is 0 at both ends of a clip and 1 in the middle of a 3-frame one.
    assert_same_image(frames[0], neutral_frame)
    assert_same_image(frames[2], neutral_frame)
    assert np.abs(frames[1].astype(np.int16) - neutral_frame).mean() > 0.5


@pytest.mark.parametrize("emotion", [Emotion.angry, Emotion.happy])
def test_intensity_zero_renders_the_neutral_source(
    renderer: LivePortraitRenderer,
    source: LivePortraitSource,
    neutral_frame: Frame,
    emotion: Emotion,
) -> None:
    request = RenderRequest(
        character_id="astronaut", emotion=emotion, intensity=0.0, **THREE_FRAMES
    )
    [peak] = renderer.render_batch(source, renderer.plan(request), range(1, 2))
    assert_same_image(peak, neutral_frame)


def test_a_second_prepare_comes_from_the_cache(
    renderer: LivePortraitRenderer,
    source: LivePortraitSource,
    portrait: Frame,
    storage: Path,
) -> None:
    again = renderer.prepare(character("astronaut", portrait), portrait, SMALL)
    assert not source.from_cache and again.from_cache
    # Persisted too: a fresh cache on the same storage (another worker, a restart) finds it.
    fingerprint = renderer.describe().weights_fingerprint
    assert fingerprint is not None
    key = SourceKey("astronaut", fingerprint, SMALL // 2)
    assert key.storage_key == f"characters/astronaut/cache/liveportrait/{fingerprint}/128.npz"
    fresh = SourceCache(LocalStore(storage), capacity=4, device=torch.device("cpu"))
    crop = centred_square_crop(portrait, SMALL // 2)
    stored = fresh.get(key, crop.crop_to_original)
    assert stored is not None
    torch.testing.assert_close(stored.feature, source.state.feature, rtol=0, atol=0)
    torch.testing.assert_close(stored.x_s, source.state.x_s, rtol=0, atol=0)
    # A different crop of the same character is not served from the cache.
    assert fresh.get(key, crop.crop_to_original * 1.01) is None


def test_the_memory_cache_is_bounded(
    source: LivePortraitSource, tmp_path: Path, portrait: Frame
) -> None:
    cache = SourceCache(LocalStore(tmp_path), capacity=2, device=torch.device("cpu"))
    crop = centred_square_crop(portrait, SMALL // 2)
    state = source.state
    keys = [SourceKey(f"c{i}", "f", SMALL // 2) for i in range(3)]
    for key in keys:
        cache.put(key, state, crop.crop_to_original)
    assert len(cache) == 2 and keys[0] not in cache
    assert cache.get(keys[0], crop.crop_to_original) is not None  # back from storage


def test_a_driving_video_drives_the_face(
    renderer: LivePortraitRenderer,
    source: LivePortraitSource,
    neutral_frame: Frame,
    storage: Path,
    tmp_path: Path,
) -> None:
    video = tmp_path / "drive.mp4"
    write_video(video, seconds=0.8, fps=10, size=64)
    store = LocalStore(storage)
    store.put_file(keys.driving_video_key("v1", "mp4"), video, "video/mp4")
    request = RenderRequest(
        character_id="astronaut",
        driving_video_id="v1",
        intensity=1.0,
        duration_ms=200,
        fps=10,
        size=SMALL,
    )
    frames = renderer.render_batch(source, renderer.plan(request), range(2))
    # Motion is relative to the video's first frame, so the clip starts at rest.
    assert_same_image(frames[0], neutral_frame)
    assert np.abs(frames[1].astype(np.int16) - neutral_frame).mean() > 0.5
    fingerprint = renderer.model.weights.fingerprint
    cached = f"driving_videos/v1/cache/liveportrait/{fingerprint}.npz"
    assert store.exists(cached)
    from_storage = DrivingMotionCache(store, fingerprint, torch.device("cpu"))

    def never(frames: torch.Tensor) -> MotionState:
        raise AssertionError("the motion should come from storage")

    assert from_storage.get("v1", never).frame_count == 8


def test_driving_motion_is_sampled_at_the_clip_rate_and_loops() -> None:
    kp = torch.arange(3.0).reshape(3, 1, 1).expand(3, 21, 3)
    motion = MotionState(
        pitch=torch.zeros(3),
        yaw=torch.zeros(3),
        roll=torch.zeros(3),
        rotation=torch.eye(3).expand(3, 3, 3),
        kp=kp,
        exp=kp,
        t=torch.zeros(3, 3),
        scale=torch.ones(3, 1),
    )
    driving = DrivingMotion(motion, fps=10.0)
    shown = driving.at(range(8), clip_fps=20).kp[:, 0, 0].tolist()
    assert shown == [0, 0, 1, 1, 2, 2, 0, 0]
    assert driving.reference.kp[:, 0, 0].tolist() == [0]


def test_a_missing_driving_video_fails_permanently(
    renderer: LivePortraitRenderer, source: LivePortraitSource
) -> None:
    request = RenderRequest(character_id="astronaut", driving_video_id="nope", **THREE_FRAMES)
    with pytest.raises(PermanentRenderError, match="not in storage"):
        renderer.render_batch(source, renderer.plan(request), range(1))


def test_missing_weights_refuse_setup(tmp_path: Path) -> None:
    broken = LivePortraitRenderer(
        settings_for(tmp_path / "nowhere", tmp_path), LocalStore(tmp_path)
    )
    with pytest.raises(WeightsError, match="nowhere.*avatar-render weights download"):
        broken.setup()
    (tmp_path / "partial").mkdir()
    partial = LivePortraitRenderer(
        settings_for(tmp_path / "partial", tmp_path), LocalStore(tmp_path)
    )
    with pytest.raises(WeightsError, match="spade_generator"):
        partial.setup()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_refuses_setup(synthetic_weights_dir: Path, tmp_path: Path) -> None:
    settings = settings_for(synthetic_weights_dir, tmp_path, device="cuda:0")
    asked = LivePortraitRenderer(settings, LocalStore(tmp_path))
    with pytest.raises(ConfigurationError, match="CUDA is not available"):
        asked.setup()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_worker_command_refuses_cuda_without_cuda(synthetic_weights_dir: Path) -> None:
    """Refused in the parent, before Celery starts or forks anything."""
    command = [sys.executable, "-m", "render_cli", "worker", "--renderer", "liveportrait"]
    finished = subprocess.run(
        [*command, "--device", "cuda:0"],
        env=child_env(weights_dir=str(synthetic_weights_dir), log_json="false"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert "error [configuration_error]: --device cuda:0" in finished.stderr


def test_out_of_memory_halves_the_batch_then_gives_up() -> None:
    calls: list[range] = []

    def fits_two(rows: range) -> torch.Tensor:
        calls.append(rows)
        if len(rows) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (test)")
        return torch.arange(rows.start, rows.stop)

    chunks = render_halving_on_oom(fits_two, range(0, 7))
    assert torch.cat(chunks).tolist() == list(range(7))
    halves = [(0, 7), (0, 3), (0, 1), (1, 3), (3, 7), (3, 5), (5, 7)]
    assert calls == [range(start, stop) for start, stop in halves]

    def never_fits(rows: range) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory (test)")

    with pytest.raises(GpuOutOfMemory):
        render_halving_on_oom(never_fits, range(0, 4))
