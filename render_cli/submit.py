"""``avatar-render submit``: register, enqueue, follow the progress, say where the outputs are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from render_cli.client import RenderClient


def submit_and_wait(
    client: RenderClient, portrait: Path, request: dict[str, Any], wait: bool
) -> int:
    character = client.register_character(portrait, name=portrait.stem)
    typer.echo(f"character {character['id']} ({character['width']}x{character['height']})")
    job = client.submit({"character_id": character["id"], **request})
    typer.echo(f"job {job['id']} queued")
    if not wait:
        return 0
    total = int(job["progress"]["frames_total"])
    with typer.progressbar(length=total, label="rendering") as bar:
        shown = 0

        def update(current: dict[str, Any]) -> None:
            nonlocal shown
            done = int(current["progress"]["frames_done"])
            bar.update(done - shown)
            shown = done

        job = client.wait(job["id"], on_update=update)
    if job["status"] != "succeeded":
        error = job.get("error") or {}
        typer.secho(f"job {job['id']} {job['status']}: {error.get('message', '')}", fg="red")
        return 1
    base = f"{client.http.base_url}/v1/renders/{job['id']}"
    typer.echo(f"succeeded: manifest {base}/manifest")
    typer.echo(f"           frames   {base}/frames/{{0..{total - 1}}}")
    typer.echo(f"           clip     {base}/clip.mp4")
    typer.echo(f"           storage  {job['manifest_key']}")
    return 0
