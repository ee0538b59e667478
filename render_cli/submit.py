"""``avatar-render submit``: register, enqueue, follow the progress, say where the outputs are.

It is a client of the HTTP API like any other, through the Python SDK
(``avatar_render_client``): one client, not two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from avatar_render_client import AvatarRenderClient, Job


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
        shown = 0

        def update(current: Job) -> None:
            nonlocal shown
            bar.update(current.progress.frames_done - shown)
            shown = current.progress.frames_done

        job = client.wait(job.id, on_progress=update, poll_interval_s=0.2)
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
