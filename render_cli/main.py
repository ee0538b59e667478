"""``avatar-render``: run the API or a worker, submit renders, operate the queue, run the demo."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from avatar_render_client import AvatarRenderClient, AvatarRenderError
from pydantic import ValidationError

from render_cli.request_options import request_default, request_option
from render_cli.roles import needs_extra
from render_cli.storage import storage_app
from render_core.emotions import Emotion
from render_core.errors import RenderServiceError
from render_core.logs import configure_logging
from render_core.settings import Settings
from workers.renderers.liveportrait.weights_cli import app as weights_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
jobs_app = typer.Typer(no_args_is_help=True, help="Operate on jobs: the failed list, retries.")
app.add_typer(jobs_app, name="jobs")
app.add_typer(storage_app, name="storage")
app.add_typer(weights_app, name="weights")


def _settings() -> Settings:
    return Settings()


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the HTTP API."""
    with needs_extra("api"):
        from producer_api.serve import run_api
    run_api(host, port, workers, _settings().api_shutdown_grace_s)


@app.command()
def stream(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (HTTP; media is UDP).")] = 8001,
) -> None:
    """Serve live (WHEP) sessions on their own: the WHEP routes and health probes."""
    with needs_extra("api"):
        from producer_api.stream import run_stream
    run_stream(host, port, _settings().api_shutdown_grace_s)


@app.command()
def worker(
    renderer: Annotated[str | None, typer.Option(help="mock or liveportrait.")] = None,
    queues: Annotated[str | None, typer.Option(help="Comma-separated queues.")] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            help="Pool processes (per GPU with --all-gpus). LivePortrait: 2 on one GPU "
            "render one clip while the other's last frames are encoded."
        ),
    ] = 1,
    name: Annotated[str | None, typer.Option(help="Node name, e.g. gpu0.")] = None,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
    check: Annotated[
        bool, typer.Option("--check", help="Exit 0 if the worker (--name) or any is alive.")
    ] = False,
    device: Annotated[str | None, typer.Option(help="LivePortrait: cuda:0, cuda or cpu.")] = None,
    precision: Annotated[
        str | None, typer.Option(help="LivePortrait on CUDA: fp16 (autocast) or fp32.")
    ] = None,
    all_gpus: Annotated[
        bool, typer.Option("--all-gpus", help="One LivePortrait worker per GPU: gpu0, gpu1, ...")
    ] = False,
    gpus: Annotated[
        str | None, typer.Option(help="With --all-gpus: only these cards, e.g. 0,2.")
    ] = None,
) -> None:
    """Consume the render queues with one renderer (or, with --check, probe the heartbeats)."""
    settings = _settings()
    if check:
        from render_core.readiness import probe_worker

        result = probe_worker(settings, name)
        typer.echo(result.reason, err=not result.alive)
        raise typer.Exit(0 if result.alive else 1)
    if all_gpus:
        # Each child runs this command again, pinned to its card, so only flags travel.
        flags = ["--renderer", "liveportrait", "--device", "cuda:0", "--loglevel", loglevel]
        flags += ["--concurrency", str(concurrency)]
        flags += ["--queues", queues] if queues else []
        flags += ["--precision", precision] if precision else []
        from workers.gpu_fleet import run_gpu_fleet

        worker_command = [sys.executable, "-m", "render_cli", "worker", *flags]
        fleet = run_gpu_fleet(worker_command, name or "gpu", gpus, settings.worker_metrics_port)
        raise typer.Exit(fleet)
    chosen = {"renderer": renderer, "device": device, "precision": precision}
    updates = {key: value for key, value in chosen.items() if value is not None}
    settings = Settings.model_validate({**settings.model_dump(), **updates})
    if settings.renderer == "liveportrait":
        with needs_extra("gpu"):
            from workers.renderers.liveportrait.preflight import check_worker_can_start
        check_worker_can_start(settings)
    with needs_extra("worker"):
        from workers.main import run_worker
    queue_list = [q for q in (queues or "").split(",") if q] or None
    run_worker(settings, queue_list, concurrency, name, loglevel)


@app.command()
def openapi(
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
) -> None:
    """Print the API's OpenAPI document (what openapi.json at the top of the repo holds)."""
    with needs_extra("api"):
        from producer_api.app import create_app
        from producer_api.docs import openapi_text
    text = openapi_text(create_app(_settings()))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)


@app.command()
def flower(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5555,
    address: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Serve Flower on our broker; RENDER_FLOWER_BASIC_AUTH is required when auth is on."""
    from render_cli.monitor import run_flower

    raise typer.Exit(run_flower(_settings(), address, port))


@app.command()
def webhooks(
    name: Annotated[
        str | None, typer.Option(help="Dispatcher name (default host-pid); with --check, a prefix.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 0 if a dispatcher (--name) is alive.")
    ] = False,
) -> None:
    """Deliver webhooks: the dispatcher (any number may run side by side)."""
    settings = _settings()
    with needs_extra("webhooks"):
        from dispatcher.main import dispatcher_alive, run_dispatcher
    if check:
        alive = dispatcher_alive(settings, name or "")
        typer.echo(f"alive: {', '.join(alive)}" if alive else "no dispatcher alive", err=not alive)
        raise typer.Exit(0 if alive else 1)
    run_dispatcher(settings, name)


def _client(settings: Settings) -> AvatarRenderClient:
    return AvatarRenderClient(settings.api_url, settings.api_key or None)


@app.command()
def submit(
    portrait: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Portrait image.")],
    emotion: Annotated[Emotion, typer.Option(help="The emotion to show.")] = Emotion.happy,
    intensity: Annotated[float, request_option("intensity")] = request_default("intensity"),
    duration_ms: Annotated[int, request_option("duration_ms")] = request_default("duration_ms"),
    fps: Annotated[int, request_option("fps")] = request_default("fps"),
    size: Annotated[int, request_option("size")] = request_default("size"),
    wait: Annotated[bool, typer.Option(help="Wait and show progress.")] = True,
) -> None:
    """Register a portrait, enqueue one render and wait for it with a progress bar.

    The API is RENDER_API_URL (default http://127.0.0.1:8000) and the key RENDER_API_KEY
    (a tenant's key from the server's RENDER_API_KEYS; empty when auth is off).
    """
    from render_cli.submit import submit_and_wait

    settings = _settings()
    request = {
        "emotion": emotion.value,
        "intensity": intensity,
        "duration_ms": duration_ms,
        "fps": fps,
        "size": size,
    }
    with _client(settings) as client:
        code = submit_and_wait(client, settings.api_url, portrait, request, wait)
    raise typer.Exit(code)


@app.command()
def status(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Print a job's record as the API shows it (RENDER_API_URL, RENDER_API_KEY)."""
    with _client(_settings()) as client:
        typer.echo(client.get_job(job_id).model_dump_json(indent=2))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where outputs go.")] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="API port (0: any free port).")] = 0,
) -> None:
    """Start Redis, a mock worker and the API; render all 7 emotions; write a contact sheet."""
    from render_cli.demo import run_demo

    raise typer.Exit(run_demo(out.resolve(), port))


@jobs_app.command("failed")
def jobs_failed(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """List the failed (dead-letter) jobs with their last error."""
    from render_core.jobs import JobStore
    from render_core.schema import JobStatus

    store = JobStore.from_settings(_settings())
    for job_id in store.index.ids_with_status(JobStatus.failed, limit):
        try:
            record = store.get(job_id)
        except RenderServiceError as exc:  # unreadable (noted) or gone: list the others
            typer.echo(f"{job_id}\t?\t{exc.code}: {exc.message}")
            continue
        error = record.error
        reason = f"{error.code}: {error.message}" if error else "-"
        typer.echo(f"{record.id}\t{record.tenant}\tattempts={record.attempts}\t{reason}")


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[str | None, typer.Argument(help="A failed or cancelled job.")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed job.")] = False,
) -> None:
    """Re-enqueue failed jobs as new attempts (each at its old place in its tenant's turn)."""
    from render_core.dispatch import Dispatcher
    from render_core.jobs import JobStore
    from render_core.queue import make_celery
    from render_core.schema import JobStatus

    if (job_id is None) == (not all_failed):
        typer.secho("name one JOB_ID or pass --all-failed", fg="red", err=True)
        raise typer.Exit(2)
    settings = _settings()
    store = JobStore.from_settings(settings)
    celery = make_celery(settings)
    ids = store.index.ids_with_status(JobStatus.failed, 100_000) if all_failed else [str(job_id)]
    for one in ids:
        try:
            record = store.retry(one, task_id=uuid.uuid4().hex)
        except RenderServiceError as exc:  # unreadable, gone or moved on: retry the others
            typer.echo(f"{one}\tnot retried: {exc.code}: {exc.message}", err=True)
            continue
        typer.echo(f"{record.id}\tre-enqueued")
    Dispatcher(celery, settings, store).top_up()  # what fits now; workers send the rest


def settings_problems(exc: ValidationError) -> list[str]:
    """Each refused setting as ``RENDER_NAME: why``, without pydantic's dump of the input."""
    problems = []
    for error in exc.errors():
        why = str(error["msg"]).removeprefix("Value error, ")
        names = [str(part) for part in error["loc"]]
        problems.append(f"RENDER_{names[0].upper()}: {why}" if names else why)
    return problems


def main() -> None:
    try:
        configure_logging(_settings())
    except ValidationError as exc:
        for problem in settings_problems(exc):
            typer.secho(f"error [invalid_settings]: {problem}", fg="red", err=True)
        raise SystemExit(2) from None
    try:
        app()
    except (RenderServiceError, AvatarRenderError) as exc:
        typer.secho(f"error [{exc.code}]: {exc.message}", fg="red", err=True)
        raise SystemExit(1) from exc
