"""Where things live in object storage (the output contract of DESIGN.md)."""

from __future__ import annotations


def portrait_key(character_id: str) -> str:
    return f"characters/{character_id}/portrait.png"


def character_cache_prefix(character_id: str, renderer: str) -> str:
    return f"characters/{character_id}/cache/{renderer}/"


def attempt_prefix(job_id: str, attempt: int) -> str:
    """Every attempt writes under its own prefix, so a duplicate delivery is harmless."""
    return f"renders/{job_id}/{attempt}/"


def cache_hit_prefix(job_id: str) -> str:
    """A cache hit's own objects: only its manifest, which names another render's outputs."""
    return f"renders/{job_id}/cache-hit/"


def job_prefix(job_id: str) -> str:
    return f"renders/{job_id}/"


def frame_key(prefix: str, index: int, extension: str = "png") -> str:
    return f"{prefix}frames/{index:06d}.{extension}"


def clip_key(prefix: str) -> str:
    return f"{prefix}clip.mp4"


def manifest_key(prefix: str) -> str:
    return f"{prefix}manifest.json"


def driving_video_key(video_id: str, container: str) -> str:
    """``container`` is ``mp4`` or ``webm``: the stored file keeps its format's extension."""
    return f"driving_videos/{video_id}/video.{container}"


def driving_face_key(video_id: str) -> str:
    """The face crop found in a non-square driving video's first frame (JSON), if any."""
    return f"driving_videos/{video_id}/face.json"


def driving_video_cache_prefix(video_id: str, renderer: str) -> str:
    """What a renderer computed once from a driving video (its motion), per renderer."""
    return f"driving_videos/{video_id}/cache/{renderer}/"
