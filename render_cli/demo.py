"""``avatar-render demo``: the whole queue on embedded defaults, seven emotions, one contact sheet.

It starts a private redis-server, one mock worker, the API and the webhook dispatcher on
loopback, registers a webhook to a receiver in this process, renders the bundled sample
portrait with every emotion through the real HTTP API, writes a contact sheet, checks
the signed webhooks arrived, prints where everything is and stops every process it
started (Ctrl-C too).
"""

from __future__ import annotations

import os
import sys
import time
from importlib.resources import files
from pathlib import Path

import typer
from avatar_render_client import AvatarRenderClient

from render_cli.contact_sheet import sample_indices, write_contact_sheet
from render_cli.local_redis import LocalRedis, free_port
from render_cli.processes import ManagedProcess, answers_200, wait_until
from render_cli.webhook_sink import WebhookSink
from render_core.emotions import Emotion

FRAMES_PER_ROW = 6
TERMINAL_EVENTS = ("render.succeeded", "render.failed", "render.cancelled")
WEBHOOK_WAIT_S = 30.0


def sample_portrait() -> Path:
    return Path(str(files("render_cli.assets").joinpath("astronaut.png")))


def _child_env(redis_url: str, storage: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    env.update(
        RENDER_REDIS_URL=redis_url,
        RENDER_STORAGE_URL=storage.as_uri(),
        RENDER_RENDERER="mock",
        RENDER_API_KEYS="",
        # The demo's webhook receiver is on loopback, over plain http.
        RENDER_WEBHOOK_ALLOW_HTTP="true",
        RENDER_WEBHOOK_ALLOW_PRIVATE_URLS="true",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_demo(out: Path, port: int) -> int:
    storage, logs = out / "storage", out / "logs"
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "render_cli"]
    children: list[ManagedProcess] = []
    redis_server = LocalRedis(data_dir=out / "redis")
    sink = WebhookSink()
    try:
        redis_server.start()
        typer.echo(f"redis-server  {redis_server.url} (data in {redis_server.data_dir})")
        env = _child_env(redis_server.url, storage)
        children.append(
            ManagedProcess([*cli, "worker", "--name", "demo-mock"], env, logs / "worker.log")
        )
        api_args = [*cli, "api", "--host", "127.0.0.1", "--port", str(port)]
        children.append(ManagedProcess(api_args, env, logs / "api.log"))
        hooks_args = [*cli, "webhooks", "--name", "demo"]
        children.append(ManagedProcess(hooks_args, env, logs / "webhooks.log"))
        wait_until(lambda: answers_200(f"{api_url}/readyz"), 60, "the API answering /readyz")
        typer.echo(f"api           {api_url} (docs at {api_url}/docs)")
        sink.start()
        with AvatarRenderClient(api_url) as client:
            return _render_all(client, out, storage, sink)
    except KeyboardInterrupt:
        typer.echo("interrupted: shutting down")
        return 130
    finally:
        sink.stop()
        for child in reversed(children):
            child.stop()
        redis_server.stop()
        typer.echo(f"logs          {logs}")


def _render_all(client: AvatarRenderClient, out: Path, storage: Path, sink: WebhookSink) -> int:
    started = time.monotonic()
    sink.secret = client.create_webhook(sink.url, list(TERMINAL_EVENTS)).secret
    character = client.register_character(sample_portrait(), name="astronaut")
    jobs = client.render_batch(
        [{"character_id": character.id, "emotion": emotion.value} for emotion in Emotion]
    )
    typer.echo(f"submitted     {len(jobs)} renders of character {character.id}")
    rows = []
    failed = 0
    for emotion, job in zip(Emotion, jobs, strict=True):
        final = client.wait(job.id, timeout_s=600)
        if final.status != "succeeded":
            failed += 1
            typer.secho(f"  {emotion.value:<10} {final.status}: {final.error}", fg="red")
            continue
        total = final.progress.frames_total
        manifest = client.get_manifest(job.id)
        folder = out / "frames" / emotion.value
        frames = [
            client.download_frame(job.id, i, folder, manifest=manifest).read_bytes()
            for i in sample_indices(total, FRAMES_PER_ROW)
        ]
        rows.append((emotion.value, frames))
        typer.echo(
            f"  {emotion.value:<10} succeeded  {total} frames  {storage / str(final.manifest_key)}"
        )
    sheet = out / "contact_sheet.png"
    if rows:
        write_contact_sheet(rows, sheet)
    typer.echo(f"contact sheet {sheet}")
    typer.echo(f"storage       {storage}")
    delivered = _report_webhooks(sink, {job.id for job in jobs})
    typer.echo(f"done in {time.monotonic() - started:.1f} s, {failed} failed")
    return 1 if failed or not delivered else 0


def _report_webhooks(sink: WebhookSink, job_ids: set[str]) -> bool:
    """Each render's end arrives as a signed webhook, verified by the receiver."""

    def arrived() -> set[str]:
        return {e["render_id"] for e in sink.events() if e["type"] in TERMINAL_EVENTS}

    deadline = time.monotonic() + WEBHOOK_WAIT_S
    while not job_ids <= arrived() and time.monotonic() < deadline:
        time.sleep(0.1)
    got = len(job_ids & arrived())
    complete = got == len(job_ids) and not sink.refused
    typer.secho(
        f"webhooks      {got} of {len(job_ids)} renders' endings delivered, signatures verified"
        f" ({sink.refused} refused)",
        fg="green" if complete else "red",
    )
    return complete
