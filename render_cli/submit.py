"""``avatar-render submit``: register, enqueue, follow the progress, say where the outputs are.

It is a client of the HTTP API like any other, through the Python SDK
(``avatar_render_client``): one client, not two. Progress comes from the render's event
stream (pushed as frames are stored, resumed by the SDK if the connection drops), not
from polling the job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from avatar_render_client import AvatarRenderClient, EventType, Job


def submit_and_wait(
    client: AvatarRenderClient, api_url: str, portrait: Path, request: dict[str, Any], wait: bool
) -> int:
    character = client.register_character(portrait, name=portrait.stem)
    typer.echo(f"character {character.id} ({character.width}x{character.height})")
    job = client.submit({"character_id": character.id, **request})
    typer.echo(f"job {job.id} queued")
    if not wait:
        return 0
    total = job.progress.frames_total
    with typer.progressbar(length=total, label="rendering") as bar:
        job = _follow(client, job, bar.update)
    if job.status != "succeeded":
        message = job.error.message if job.error else ""
        typer.secho(f"job {job.id} {job.status}: {message}", fg="red")
        return 1
    base = f"{api_url.rstrip('/')}/v1/renders/{job.id}"
    typer.echo(f"succeeded: manifest {base}/manifest")
    typer.echo(f"           frames   {base}/frames/{{0..{total - 1}}}")
    typer.echo(f"           clip     {base}/clip.mp4")
    typer.echo(f"           storage  {job.manifest_key}")
    return 0


def _follow(client: AvatarRenderClient, job: Job, advance: Callable[[int], None]) -> Job:
    """Move the bar with the render's events until its end; the final job after."""
    shown = 0
    for event in client.render_events(job.id):
        if event.job is not None:  # render.state: where the job was when we subscribed
            done = event.job.progress.frames_done
        elif event.type == EventType.progress:
            done = int(event.data["frames_done"])
        elif event.type in (EventType.started, EventType.retried):
            done = 0  # a new attempt renders every frame again
        else:
            continue
        advance(done - shown)
        shown = done
    return client.get_job(job.id)
