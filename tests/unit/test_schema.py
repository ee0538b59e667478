"""The render request contract: defaults, ranges, and refusals with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from render_core.emotions import Emotion
from render_core.job_view import JobView
from render_core.schema import BatchRenderRequest, JobRecord, JobStatus, RenderRequest

VALID: dict[str, Any] = {"character_id": "c1", "emotion": "happy"}


def test_defaults_follow_the_contract() -> None:
    request = RenderRequest.model_validate(VALID)
    assert request.intensity == 0.8
    assert (request.duration_ms, request.fps, request.size) == (2000, 25, 512)
    assert [o.value for o in request.outputs] == ["frames", "mp4"]
    assert request.priority.value == "interactive"
    assert request.frame_count == 50


def test_all_seven_emotions_are_accepted() -> None:
    names = {e.value for e in Emotion}
    assert names == {"neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted"}
    for name in names:
        assert RenderRequest.model_validate({**VALID, "emotion": name}).emotion == Emotion(name)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"emotion": "bored"}, "emotion"),
        ({"intensity": 1.5}, "intensity"),
        ({"intensity": -0.1}, "intensity"),
        ({"duration_ms": 0}, "duration_ms"),
        ({"duration_ms": 10_001}, "duration_ms"),
        ({"fps": 61}, "fps"),
        ({"size": 300}, "size"),
        ({"outputs": []}, "outputs"),
        ({"outputs": ["frames", "frames"]}, "outputs"),
        ({"outputs": ["gif"]}, "outputs"),
        ({"priority": "urgent"}, "priority"),
        ({"metadata": {"blob": "x" * 241}}, "metadata"),
        ({"metadata": {"k" * 65: 1}}, "metadata"),
        ({"metadata": {f"k{i}": i for i in range(17)}}, "metadata"),
        ({"metadata": {"nested": {"deep": 1}}}, "metadata"),
        ({"metadata": {"list": [1, 2]}}, "metadata"),
        ({"colour": "red"}, "colour"),
        ({"intensity": "very"}, "intensity"),
        ({"frame_format": "gif"}, "frame_format"),
        ({"controls": {"smile": 2}}, "smile"),
        ({"controls": {"head_yaw": -45}}, "head_yaw"),
        ({"controls": {"mouth_open": -0.5}}, "mouth_open"),
        ({"controls": {"wink": 1}}, "wink"),
        ({"frame_format": "jpeg", "quality": 0}, "quality"),
        ({"intensity": True}, "intensity"),
        ({"intensity": "0.5"}, "intensity"),
        ({"intensity": float("nan")}, "intensity"),
        ({"fps": 25.0}, "fps"),
        ({"size": 512.0}, "size"),
        ({"cache": 1}, "cache"),
        ({"frame_format": "jpeg", "quality": "90"}, "quality"),
        ({"controls": {"head_yaw": float("inf")}}, "head_yaw"),
    ],
)
def test_bad_values_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RenderRequest.model_validate({**VALID, **change})
    assert field in {str(part) for error in caught.value.errors() for part in error["loc"]}


def test_exactly_one_of_emotion_and_driving_video() -> None:
    with pytest.raises(ValidationError, match="exactly one of emotion and driving_video_id"):
        RenderRequest.model_validate({"character_id": "c"})
    with pytest.raises(ValidationError, match="exactly one of emotion and driving_video_id"):
        RenderRequest.model_validate({**VALID, "driving_video_id": "v"})
    driven = RenderRequest.model_validate({"character_id": "c", "driving_video_id": "v"})
    assert driven.emotion is None


def test_fine_controls_keep_only_what_was_given() -> None:
    request = RenderRequest.model_validate({**VALID, "controls": {"smile": 0.5, "head_roll": -3}})
    assert request.controls is not None
    assert request.controls.given() == {"smile": 0.5, "head_roll": -3.0}


def test_quality_is_refused_for_png() -> None:
    with pytest.raises(ValidationError, match="quality applies to webp and jpeg"):
        RenderRequest.model_validate({**VALID, "quality": 80})
    assert (
        RenderRequest.model_validate({**VALID, "frame_format": "webp", "quality": 80}).quality == 80
    )


def test_metadata_at_its_limits_is_echoed() -> None:
    metadata: dict[str, Any] = {f"{i:0>64}": "s" * 240 for i in range(15)}
    metadata["flags"] = None
    assert RenderRequest.model_validate({**VALID, "metadata": metadata}).metadata == metadata
    scalars = {"n": 7, "x": 0.5, "yes": True, "none": None}
    assert RenderRequest.model_validate({**VALID, "metadata": scalars}).metadata == scalars


def test_batch_takes_one_to_one_hundred() -> None:
    assert len(BatchRenderRequest.model_validate({"requests": [VALID] * 100}).requests) == 100
    for count in (0, 101):
        with pytest.raises(ValidationError):
            BatchRenderRequest.model_validate({"requests": [VALID] * count})


def test_job_view_hides_internal_bookkeeping() -> None:
    record = JobRecord(
        id="j", tenant="t", request=RenderRequest.model_validate(VALID), attempt_token="secret"
    )
    shown = JobView.of(record).model_dump()
    assert "tenant" not in shown and "attempt_token" not in shown and "task_id" not in shown
    assert shown["progress"] == {"frames_done": 0, "frames_total": 50}
    assert shown["status"] == JobStatus.queued
