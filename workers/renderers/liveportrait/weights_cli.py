"""``avatar-render weights``: fetch, check or synthesise a LivePortrait weights directory.

torch is imported inside the commands, not here, so mounting this sub-app keeps the main
CLI's start fast and lets it load where torch is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from render_core.errors import WeightsError

app = typer.Typer(
    name="weights",
    help="Fetch or check LivePortrait checkpoint files, or write the kit's synthetic ones.",
    no_args_is_help=True,
)

WeightsDir = Annotated[
    Path, typer.Argument(help="Directory laid out like upstream's pretrained_weights/liveportrait")
]


@app.command()
def verify(weights_dir: WeightsDir) -> None:
    """List what is wrong with each checkpoint file; exit 1 if anything is."""
    from workers.renderers.liveportrait.weights_verification import verify_weights_dir

    report = verify_weights_dir(weights_dir)
    for file in report.files:
        if file.problems:
            for problem in file.problems:
                typer.echo(f"{file.relative_path}: {problem}", err=True)
        else:
            typer.echo(f"{file.relative_path}: ok")
    typer.echo(f"fingerprint: {report.fingerprint or 'unavailable (files missing)'}")
    typer.echo(f"synthetic: {'yes' if report.synthetic else 'no'}")
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def synth(
    weights_dir: WeightsDir,
    overwrite: Annotated[bool, typer.Option(help="Replace checkpoint files already there")] = False,
) -> None:
    """Write the kit's rule weights in the official layout (about 520 MB)."""
    from workers.renderers.liveportrait.synthetic_weights import write_synthetic_weights

    try:
        fingerprint = write_synthetic_weights(weights_dir, overwrite=overwrite)
    except WeightsError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"wrote synthetic weights to {weights_dir}")
    typer.echo(f"fingerprint: {fingerprint}")


@app.command()
def download(
    weights_dir: WeightsDir,
    revision: Annotated[
        str | None,
        typer.Option(help="Hub branch, tag or commit (default RENDER_WEIGHTS_REVISION)."),
    ] = None,
) -> None:
    """Fetch the five official checkpoints from the Hub, verify them, and install them here.

    Interrupted downloads resume on the next run (the Hub cache keeps them, HF_HUB_CACHE);
    HF_ENDPOINT and HF_TOKEN are honoured. Prints the fingerprint manifests will carry.
    """
    from render_core.settings import Settings
    from workers.renderers.liveportrait.weights_download import HUB_REPO, download_weights

    chosen = revision or Settings().weights_revision
    typer.echo(f"fetching {HUB_REPO}@{chosen} into {weights_dir}")
    try:
        weights = download_weights(weights_dir, chosen)
    except WeightsError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(code=1) from error
    typer.echo(f"commit: {weights.commit}")
    typer.echo(f"fingerprint: {weights.fingerprint}")
    typer.echo(f"synthetic: {'yes' if weights.synthetic else 'no'}")
