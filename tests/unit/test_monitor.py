"""Flower's arguments: basic auth from the settings, required whenever the API has keys."""

from __future__ import annotations

import pytest

from render_cli.monitor import flower_argv
from render_core.errors import ConfigurationError
from render_core.settings import Settings


def test_basic_auth_is_passed_to_flower() -> None:
    settings = Settings(api_keys="t:key", flower_basic_auth="ops:pw, audit:pw2")
    assert flower_argv(settings, "127.0.0.1", 5555) == [
        "flower",
        "--address=127.0.0.1",
        "--port=5555",
        "--basic-auth=ops:pw,audit:pw2",
    ]


def test_flower_without_auth_is_refused_when_the_api_has_keys() -> None:
    with pytest.raises(ConfigurationError, match="RENDER_FLOWER_BASIC_AUTH"):
        flower_argv(Settings(api_keys="t:key", flower_basic_auth=""), "127.0.0.1", 5555)


def test_a_local_run_may_leave_flower_open() -> None:
    argv = flower_argv(Settings(api_keys="", flower_basic_auth=""), "127.0.0.1", 5555)
    assert not any(arg.startswith("--basic-auth") for arg in argv)


@pytest.mark.parametrize("value", ["ops", "ops:", ":pw", "ops:pw,broken"])
def test_malformed_basic_auth_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="user:password"):
        flower_argv(Settings(flower_basic_auth=value), "127.0.0.1", 5555)
