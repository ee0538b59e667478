"""The package rules of DESIGN.md, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return set(out.stdout.split())


def _top_levels(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("module", ["producer_api.app", "producer_api.serve"])
def test_the_api_never_pulls_in_workers_or_torch(module: str) -> None:
    loaded = _top_levels(_modules_after_import(module))
    assert not loaded & {"torch", "workers", "onnxruntime", "cv2"}


@pytest.mark.parametrize(
    "module",
    ["render_core.jobs", "render_core.queue", "render_core.storage", "render_core.cli.main"],
)
def test_render_core_imports_neither_fastapi_nor_torch(module: str) -> None:
    loaded = _top_levels(_modules_after_import(module))
    assert not loaded & {"torch", "fastapi", "starlette", "workers", "producer_api"}


@pytest.mark.parametrize("module", ["workers.celery_app", "workers.renderers.mock", "workers.main"])
def test_the_mock_worker_runs_without_torch(module: str) -> None:
    loaded = _top_levels(_modules_after_import(module))
    assert not loaded & {"torch", "fastapi", "producer_api"}


def test_torch_is_imported_only_inside_the_liveportrait_package() -> None:
    offenders = []
    for package in ("render_core", "producer_api", "workers"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text()
            if ("import torch" in text or "from torch" in text) and (
                "renderers/liveportrait" not in path.as_posix()
            ):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for package in ("render_core", "producer_api", "workers"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text()
            if "os.environ[" in text or "os.getenv" in text or "environ.get(" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
