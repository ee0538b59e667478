"""The client distribution stands alone: a class for every server error code, no import of
the server's packages, and an install into a clean virtualenv that brings only httpx and
pydantic."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import time
from pathlib import Path

import avatar_render_client
from avatar_render_client import ERROR_CLASSES, AvatarRenderError

import producer_api.errors
import render_core.errors

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "clients" / "python"
SOURCE = CLIENT / "src" / "avatar_render_client"
SERVER_PACKAGES = ("render_core", "producer_api", "workers")
# Codes the API's own handlers answer with (producer_api/errors.py): validation, an
# unparsable body, and Starlette's HTTP errors.
HANDLER_CODES = {
    "invalid_request",
    "invalid_json",
    "http_error",
    *producer_api.errors.HTTP_ERROR_CODES.values(),
}
FORBIDDEN = {"render_core", "producer_api", "workers", "celery", "kombu", "redis", "torch"}


def _server_error_classes() -> list[type[render_core.errors.RenderServiceError]]:
    """Every error class of the server: the tree, and its subclasses elsewhere."""
    found, todo = [], [render_core.errors.RenderServiceError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def _codes_raised_in_source() -> set[str]:
    """Codes given as literals where errors are raised (``code="no_video_frames"``)."""
    pattern = re.compile(r"""\bcode\s*=\s*["']([a-z_]+)["']""")
    return {
        code
        for package in SERVER_PACKAGES
        for path in (REPO / package).rglob("*.py")
        for code in pattern.findall(path.read_text())
    }


def test_every_error_code_of_render_core_errors_has_its_own_class() -> None:
    base = render_core.errors.RenderServiceError
    classes = [
        c for c in vars(render_core.errors).values() if isinstance(c, type) and issubclass(c, base)
    ]
    assert len(classes) > 20
    for server_class in classes:
        sdk_class = ERROR_CLASSES.get(server_class.code)
        assert sdk_class is not None, f"no client class for code {server_class.code!r}"
        assert sdk_class is not AvatarRenderError and sdk_class.code == server_class.code
        assert sdk_class.http_status == server_class.http_status, server_class.code


def test_every_code_the_server_can_send_has_a_class() -> None:
    codes = {c.code for c in _server_error_classes()} | _codes_raised_in_source() | HANDLER_CODES
    assert {"idempotency_key_reused", "not_ready", "character_not_found"} <= codes
    assert sorted(codes - ERROR_CLASSES.keys()) == []
    assert len({ERROR_CLASSES[code] for code in codes}) == len(codes)  # one class each


def test_the_client_imports_nothing_of_the_server() -> None:
    imported = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert imported & FORBIDDEN == set()
    assert (SOURCE / "py.typed").exists()
    assert Path(avatar_render_client.__file__).parent == SOURCE


# About 10 s with pip's cache, 17 s without (PyPI): under the 30 s of the slow tier.
def test_a_clean_virtualenv_gets_the_client_without_the_server_stack(tmp_path: Path) -> None:
    started = time.monotonic()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(CLIENT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    check = f"""
import importlib.util, pathlib, sys
import avatar_render_client as client
assert client.AvatarRenderClient and client.AsyncAvatarRenderClient
assert pathlib.Path(client.__file__).is_relative_to({str(venv)!r}), client.__file__
assert (pathlib.Path(client.__file__).parent / "py.typed").exists()
present = [m for m in {sorted(FORBIDDEN)!r} if importlib.util.find_spec(m) is not None]
assert present == [], present
print(client.__version__)
"""
    result = subprocess.run(
        [python, "-c", check], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == avatar_render_client.__version__
    print(f"clean install and import: {time.monotonic() - started:.1f} s")  # noqa: T201
