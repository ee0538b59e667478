"""The command line's request options are the schema's: same bounds, same defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from render_cli.local_redis import free_port
from render_cli.main import app
from render_cli.request_options import request_default, schema_bounds
from render_core.schema import RenderRequest
from tests.conftest import SAMPLE_PORTRAIT, child_env


@pytest.mark.parametrize(
    ("argument", "value"),
    [("--fps", "61"), ("--fps", "0"), ("--duration-ms", "199"), ("--intensity", "1.01")],
)
def test_values_outside_the_schema_are_refused_before_anything_is_sent(
    argument: str, value: str
) -> None:
    # The API URL points nowhere: a refusal must come from the options, not the network.
    result = CliRunner().invoke(
        app,
        ["submit", str(SAMPLE_PORTRAIT), argument, value],
        env={"RENDER_API_URL": "http://127.0.0.1:9"},
    )
    assert result.exit_code == 2
    assert argument in result.output


def test_a_size_outside_the_choices_is_refused() -> None:
    result = CliRunner().invoke(app, ["submit", str(SAMPLE_PORTRAIT), "--size", "300"])
    assert result.exit_code == 2 and "256, 512" in result.output


def test_bounds_and_defaults_come_from_the_request_schema() -> None:
    assert schema_bounds("fps") == (1, 60)
    assert schema_bounds("duration_ms") == (200, 10_000)
    defaults = RenderRequest(character_id="c", emotion="happy")
    assert request_default("fps") == defaults.fps
    assert request_default("intensity") == defaults.intensity


def test_submit_help_names_the_settings_that_reach_the_api() -> None:
    result = CliRunner().invoke(app, ["submit", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "RENDER_API_URL" in result.output and "RENDER_API_KEY" in result.output


def test_an_unreachable_api_is_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    finished = subprocess.run(
        [sys.executable, "-m", "render_cli", "status", "some-job"],
        env=child_env(api_url=url, log_json="false"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0], finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("PRESIGN_EXPIRY_S", "0", "Input should be greater than or equal to 1"),
        ("TENANT_LIMITS", "acme:rate=2/s,burst=2", "burst 2 is below the largest batch (100)"),
    ],
)
def test_a_bad_setting_stops_the_command_with_one_line_naming_it(
    name: str, value: str, why: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "render_cli", "api"],
        env=child_env(**{name.lower(): value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error [invalid_settings]: RENDER_{name}: {why}"]
