"""``avatar-render weights``: check a LivePortrait weights directory, or write synthetic ones.

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
    help="Check LivePortrait checkpoint files, or write the conformance kit's synthetic ones.",
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
