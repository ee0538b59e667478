"""The LivePortrait renderer behind the queue: weights once per process, sources once per
character, and every frame of a clip as keypoints through W and G in batches.

A clip's keypoints come from the motion plan of its emotion, or from a driving video's
motion relative to its first frame; either is planned once per job (``clip_plan``).
Frames are the networks' own output: the portrait's square crop at twice the crop side,
so a 128 px crop gives 256 px frames and a 256 px crop (upstream's) gives 512 px frames;
they are pasted back, on the device, into the portrait's centred square at the requested
size. W+G run through a ``FrameStep``: on CUDA compiled and replayed as a CUDA graph, both
prepared at warm-up for every output size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from render_core.errors import ConfigurationError, PermanentRenderError
from render_core.manifest import RendererDescription
from render_core.schema import Character, RenderRequest
from render_core.settings import Settings
from render_core.storage import ObjectStore
from workers.motion_source import EmotionMotion, VideoMotion, motion_source
from workers.renderer import Frame
from workers.renderers.liveportrait.clip_plan import DrivenPlan, EmotionPlan, LivePortraitPlan
from workers.renderers.liveportrait.driving_motion import DrivingMotion, DrivingMotionCache
from workers.renderers.liveportrait.frame_step import FrameStep, StepOptions
from workers.renderers.liveportrait.keypoints import MotionState
from workers.renderers.liveportrait.model import LivePortraitModel, SourceState
from workers.renderers.liveportrait.motion_plan import plan_for_request
from workers.renderers.liveportrait.oom_fallback import render_halving_on_oom
from workers.renderers.liveportrait.pasteback import (
    PasteBack,
    feathered_mask,
    paste_back,
    prepare_paste_back,
)
from workers.renderers.liveportrait.plan_keypoints import planned_keypoints
from workers.renderers.liveportrait.preflight import check_weights_present
from workers.renderers.liveportrait.source_cache import SourceCache, SourceKey
from workers.renderers.liveportrait.source_crop import (
    SourceCrop,
    centred_square_crop,
    resized_pixels,
    source_crop,
)
from workers.renderers.liveportrait.torch_device import describe_device, resolve_device

log = logging.getLogger(__name__)

# Network input side per output size: the networks output twice their input side.
CROP_SIDES = {256: 128, 512: 256}
WARM_UP_GREY = 128


@dataclass(frozen=True)
class LivePortraitSource:
    """A character's prepared state at one crop side, and the plan that pastes an animated
    crop back into the portrait's output square of ``size``."""

    size: int
    state: SourceState
    paste_plan: PasteBack
    from_cache: bool


@dataclass(frozen=True)
class _Loaded:
    model: LivePortraitModel
    sources: SourceCache
    driving: DrivingMotionCache
    device_label: str
    frame_step: FrameStep


class LivePortraitRenderer:
    name = "liveportrait"
    version = "1"

    def __init__(self, settings: Settings, store: ObjectStore) -> None:
        self.settings = settings
        self.store = store
        self._loaded: _Loaded | None = None

    @property
    def _ready(self) -> _Loaded:
        if self._loaded is None:
            raise ConfigurationError("the LivePortrait renderer was used before setup()")
        return self._loaded

    @property
    def model(self) -> LivePortraitModel:
        return self._ready.model

    @property
    def frame_step(self) -> FrameStep:
        return self._ready.frame_step

    @property
    def _fp16(self) -> bool:
        return self.frame_step.options.half_precision

    def setup(self) -> None:
        """Check the device, load and verify the weights, prepare and render a warm-up frame."""
        check_weights_present(self.settings.weights_dir)
        device = resolve_device(self.settings.device)
        model = LivePortraitModel.from_weights_dir(self.settings.weights_dir, device)
        options = StepOptions(
            half_precision=device.type == "cuda" and self.settings.precision == "fp16",
            batch=self.settings.frame_batch_size,
            compile=self.settings.torch_compile,
            cuda_graphs=self.settings.cuda_graphs,
            first_batch=self.settings.first_batch_size,
        )
        self._loaded = _Loaded(
            model,
            SourceCache(self.store, self.settings.source_cache_size, device),
            DrivingMotionCache(self.store, model.weights.fingerprint, device),
            describe_device(device, self.settings.precision),
            FrameStep(model, options),
        )
        # Compilation, graph capture and cuDNN's kernel choice happen on first use of a
        # shape: pay them here, for every size on a GPU; the CPU warms up only the small
        # size (a 512 px CPU frame takes seconds).
        started = time.perf_counter()
        sizes = sorted(CROP_SIDES) if device.type == "cuda" else [min(CROP_SIDES)]
        for size in sizes:
            side = CROP_SIDES[size]
            grey = np.full((side, side, 3), WARM_UP_GREY, dtype=np.uint8)
            state = self._prepare_crop(grey)
            at_rest = model.stitch(state.x_s, state.x_s)
            with torch.inference_mode():
                self.frame_step.warm_up(state, at_rest)
            paste = self._paste_plan(grey, centred_square_crop(grey, side), size)
            self._frames(state, paste, at_rest)
        log.info(
            "LivePortrait ready on %s (weights %s%s; W+G %s, warm-up %.1f s)",
            self._ready.device_label,
            model.weights.fingerprint[:12],
            ", synthetic" if model.weights.synthetic else "",
            self.frame_step.mode,
            time.perf_counter() - started,
        )

    def describe(self) -> RendererDescription:
        if self._loaded is None:
            return RendererDescription(name=self.name, version=self.version)
        weights = self._loaded.model.weights
        return RendererDescription(
            name=self.name,
            version=self.version,
            weights_fingerprint=weights.fingerprint,
            synthetic_weights=weights.synthetic,
            device=self._loaded.device_label,
            precision="fp16" if self._fp16 else "fp32",
        )

    def prepare(self, character: Character, portrait: Frame, size: int) -> LivePortraitSource:
        if size not in CROP_SIDES:
            sizes = sorted(CROP_SIDES)
            raise PermanentRenderError(f"LivePortrait renders sizes {sizes}, not {size}")
        ready = self._ready
        side = CROP_SIDES[size]
        crop = source_crop(character, portrait, side)
        key = SourceKey(character.id, ready.model.weights.fingerprint, side)
        state = ready.sources.get(key, crop.crop_to_original)
        from_cache = state is not None
        if state is None:
            state = self._prepare_crop(crop.image)
            ready.sources.put(key, state, crop.crop_to_original)
        return LivePortraitSource(size, state, self._paste_plan(portrait, crop, size), from_cache)

    def _paste_plan(self, portrait: Frame, crop: SourceCrop, size: int) -> PasteBack:
        """Frames come out as the portrait's centred square at ``size`` (as the mock's do),
        with the animated face crop pasted back where it was taken from."""
        canvas = centred_square_crop(portrait, size)
        output_to_original = crop.crop_to_original @ resized_pixels(crop.image.shape[0] / size)
        output_to_canvas = np.linalg.inv(canvas.crop_to_original) @ output_to_original
        return prepare_paste_back(
            torch.from_numpy(canvas.image).to(self.model.device),
            feathered_mask(size),
            torch.from_numpy(output_to_canvas),
        )

    def plan(self, request: RenderRequest) -> LivePortraitPlan:
        match motion_source(request):
            case EmotionMotion(emotion=emotion):
                return EmotionPlan(plan_for_request(request, emotion))
            case VideoMotion(video_id=video_id):
                return DrivenPlan(self._driving_motion(video_id), request.fps, request.intensity)

    def render_batch(
        self, source: LivePortraitSource, plan: LivePortraitPlan, indices: range
    ) -> list[Frame]:
        x_d = self.keypoints(source, plan, indices)
        return self._frames(source.state, source.paste_plan, x_d)

    def keypoints(
        self, source: LivePortraitSource, plan: LivePortraitPlan, indices: range
    ) -> torch.Tensor:
        """The stitched driving keypoints (B, 21, 3) of frames ``indices``: W+G's input."""
        state = source.state
        with torch.inference_mode():
            if isinstance(plan, EmotionPlan):
                moved = planned_keypoints(state.motion, plan.motion.at(indices))
                return self.model.stitch(state.x_s, moved)
            return self._driven_keypoints(state, plan, indices)

    def _driving_motion(self, video_id: str) -> DrivingMotion:
        """The video's motion from the cache, or extracted (and cached) on first use."""

        def extract(frames: torch.Tensor) -> MotionState:
            with self._precision():
                return self.model.extract_motion(frames)

        with torch.inference_mode():
            return self._ready.driving.get(video_id, extract)

    def _driven_keypoints(
        self, state: SourceState, plan: DrivenPlan, indices: range
    ) -> torch.Tensor:
        """Upstream's relative motion against the video's first frame, stitched; intensity
        scales the motion (upstream's driving multiplier), so 0 is the still source."""
        driving = plan.driving
        return self.model.driven_keypoints(
            state, driving.reference, driving.at(indices, plan.fps), plan.intensity
        )

    @contextmanager
    def _precision(self) -> Iterator[None]:
        device_type = self.model.device.type
        with torch.autocast(device_type, dtype=torch.float16, enabled=self._fp16):
            yield

    def _prepare_crop(self, crop: np.ndarray) -> SourceState:
        with self._precision():
            return self.model.prepare_source(torch.from_numpy(crop))

    def _frames(self, state: SourceState, paste: PasteBack, x_d: torch.Tensor) -> list[Frame]:
        """Render stitched (B, 21, 3) keypoints as one batch (split only on OOM) and paste
        them back on the device."""

        step = self.frame_step

        def render(rows: range) -> torch.Tensor:
            return paste_back(step(state, x_d[rows.start : rows.stop]), paste).cpu()

        chunks = render_halving_on_oom(render, range(x_d.shape[0]))
        return [np.asarray(frame) for chunk in chunks for frame in chunk.numpy()]
