"""``avatar-render storage``: check a render's objects, and prune old outputs (from cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from render_core.jobs import JobStore
from render_core.retention import expire_outputs, expire_records, parse_age
from render_core.settings import Settings
from render_core.storage import open_store
from render_core.verification import verify_render

MOST_RECORDS = 1_000_000

storage_app = typer.Typer(
    no_args_is_help=True, help="Object storage: verify a render's outputs, delete old ones."
)


def _age(text: str) -> timedelta:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@storage_app.command("verify")
def verify(job_id: Annotated[str, typer.Argument(help="A succeeded render's job id.")]) -> None:
    """Check every frame and the clip against the manifest; exit 1 on any problem."""
    settings = Settings()
    result = verify_render(JobStore.from_settings(settings), open_store(settings), job_id)
    for problem in result.problems:
        typer.echo(str(problem))
    if result.ok:
        typer.echo(f"render {job_id}: all {result.checked} objects match the manifest")
        return
    typer.secho(
        f"render {job_id}: {len(result.problems)} of {result.checked} objects do not match",
        fg="red",
        err=True,
    )
    raise typer.Exit(1)


@storage_app.command("gc")
def gc(
    older_than: Annotated[
        timedelta,
        typer.Option(
            "--older-than", parser=_age, metavar="AGE", help="Retention: 7d, 12h, 30m or 90s."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would go; change nothing.")
    ] = False,
) -> None:
    """Delete the outputs of renders finished longer ago than the retention; mark them expired."""
    settings = Settings()
    jobs, store = JobStore.from_settings(settings), open_store(settings)
    expired = expire_outputs(jobs, store, older_than, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for one in expired:
        finished = one.finished_at.isoformat(timespec="seconds")
        typer.echo(f"{one.job_id}\t{one.status.value}\tfinished {finished}\t{verb} {one.objects}")
    total = sum(one.objects for one in expired)
    summary = f"{len(expired)} renders past retention, {verb} {total} objects"
    typer.echo(f"dry run: {summary}; nothing changed" if dry_run else summary)
    if not dry_run:  # the workers' reaper does this too; here for stores without workers
        gone = expire_records(jobs, store, settings.job_retention_s, limit=MOST_RECORDS)
        typer.echo(f"{len(gone)} job records past RENDER_JOB_RETENTION_S deleted")
