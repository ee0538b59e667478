"""The mock renderer is deterministic and shows what was asked."""

from __future__ import annotations

import numpy as np
from PIL import Image

from render_core.emotions import Emotion
from render_core.schema import Character, FrameFormat, RenderRequest
from tests.conftest import SAMPLE_PORTRAIT
from workers.encoding import encode_frame
from workers.renderer import Renderer
from workers.renderers.mock import MockPlan, MockRenderer, MockSource

CHARACTER = Character(
    id="c", tenant="t", name=None, width=512, height=512, portrait_key="k", portrait_sha256="0"
)


def _portrait() -> np.ndarray:
    return np.asarray(Image.open(SAMPLE_PORTRAIT).convert("RGB"))


def _request(**values: object) -> RenderRequest:
    return RenderRequest.model_validate({"character_id": "c", "emotion": "happy", **values})


def test_mock_conforms_to_the_renderer_protocol() -> None:
    renderer: Renderer[MockSource, MockPlan] = MockRenderer()
    assert renderer.describe().name == "mock"


def test_same_request_gives_byte_identical_frames() -> None:
    request = _request(size=256, duration_ms=400)
    first = MockRenderer()
    second = MockRenderer()
    a = first.render_batch(
        first.prepare(CHARACTER, _portrait(), 256), first.plan(request), range(10)
    )
    b = second.render_batch(
        second.prepare(CHARACTER, _portrait(), 256), second.plan(request), range(10)
    )
    for fmt in FrameFormat:
        assert [encode_frame(f, fmt) for f in a] == [encode_frame(f, fmt) for f in b]


def test_frames_have_the_requested_size_and_differ_by_emotion() -> None:
    renderer = MockRenderer()
    source = renderer.prepare(CHARACTER, _portrait(), 256)
    middle = {}
    for emotion in Emotion:
        (frame,) = renderer.render_batch(
            source, renderer.plan(_request(emotion=emotion.value, size=256)), range(25, 26)
        )
        assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
        middle[emotion] = frame
    assert len({f.tobytes() for f in middle.values()}) == 7


def test_intensity_changes_the_tint_and_zero_shows_the_portrait() -> None:
    renderer = MockRenderer()
    source = renderer.prepare(CHARACTER, _portrait(), 512)
    (strong,) = renderer.render_batch(source, renderer.plan(_request(intensity=1.0)), range(25, 26))
    (weak,) = renderer.render_batch(source, renderer.plan(_request(intensity=0.2)), range(25, 26))
    (none,) = renderer.render_batch(source, renderer.plan(_request(intensity=0.0)), range(25, 26))
    plain = np.asarray(Image.fromarray(_portrait()).resize((512, 512), Image.Resampling.LANCZOS))
    top = slice(0, 300)  # above the caption bar

    def distance(frame: np.ndarray) -> float:
        return float(np.abs(frame[top].astype(int) - plain[top].astype(int)).mean())

    assert distance(none) == 0.0
    assert distance(strong) > distance(weak) > 0.0


def test_fine_controls_are_drawn() -> None:
    renderer = MockRenderer()
    source = renderer.prepare(CHARACTER, _portrait(), 256)
    (plain,) = renderer.render_batch(source, renderer.plan(_request(size=256)), range(25, 26))
    (refined,) = renderer.render_batch(
        source,
        renderer.plan(_request(size=256, controls={"smile": 0.5, "head_yaw": -10})),
        range(25, 26),
    )
    top = slice(0, 256 // 14)
    assert not np.array_equal(plain[top], refined[top])
    assert (refined[top] == 0).mean() > 0.5  # the caption band is drawn


def test_a_driving_video_render_is_labelled() -> None:
    renderer = MockRenderer()
    source = renderer.prepare(CHARACTER, _portrait(), 256)
    request = RenderRequest.model_validate(
        {"character_id": "c", "driving_video_id": "v1", "size": 256}
    )
    (frame,) = renderer.render_batch(source, renderer.plan(request), range(0, 1))
    assert frame.shape == (256, 256, 3)
