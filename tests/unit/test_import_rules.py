"""The package rules of DESIGN.md, checked in fresh interpreters."""

from __future__ import annotations

import ast
import re
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
    assert not loaded & {"torch", "workers", "dispatcher", "onnxruntime", "cv2"}


def test_the_dispatcher_needs_neither_the_api_nor_the_workers() -> None:
    loaded = _top_levels(_modules_after_import("dispatcher.main"))
    assert not loaded & {"torch", "fastapi", "starlette", "producer_api", "workers", "celery"}


@pytest.mark.parametrize(
    "module",
    [
        "render_core.jobs",
        "render_core.queue",
        "render_core.storage",
        "render_core.settings",
        "render_core.webhooks",
        "render_core.webhook_urls",
    ],
)
def test_render_core_imports_neither_fastapi_nor_torch(module: str) -> None:
    loaded = _top_levels(_modules_after_import(module))
    assert not loaded & {"torch", "fastapi", "starlette", "workers", "producer_api", "dispatcher"}


@pytest.mark.parametrize("module", ["workers.celery_app", "workers.renderers.mock", "workers.main"])
def test_the_mock_worker_runs_without_torch(module: str) -> None:
    loaded = _top_levels(_modules_after_import(module))
    assert not loaded & {"torch", "fastapi", "producer_api"}


def test_torch_is_imported_only_inside_the_liveportrait_package() -> None:
    offenders = []
    for package in ("render_core", "producer_api", "workers", "dispatcher"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text()
            if ("import torch" in text or "from torch" in text) and (
                "renderers/liveportrait" not in path.as_posix()
            ):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for package in ("render_core", "producer_api", "workers", "dispatcher"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text()
            if "os.environ[" in text or "os.getenv" in text or "environ.get(" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


# --- static rules over every file: lazy imports and module-name strings count too --------

PACKAGES = ("render_core", "producer_api", "workers", "dispatcher", "render_cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source_modules() -> dict[str, Path]:
    return {
        _module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")
    }


def _imported_names(tree: ast.AST) -> list[str]:
    """Every module an import statement names, at any depth (functions included);
    ``from a import b`` names both ``a`` and ``a.b``."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _module_strings(tree: ast.AST) -> list[str]:
    """String constants that look like a module path, as ``import_module`` would take."""
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)+", node.value)
    ]


def test_render_core_names_neither_side_even_lazily_or_by_string() -> None:
    offenders = []
    for module, path in _source_modules().items():
        if not module.startswith("render_core"):
            continue
        tree = ast.parse(path.read_text())
        for name in _imported_names(tree) + _module_strings(tree):
            if name.split(".")[0] in {"producer_api", "workers", "dispatcher", "render_cli"}:
                offenders.append(f"{module}: {name}")
    assert offenders == []


def test_nothing_imports_the_command_line() -> None:
    offenders = [
        f"{module}: {name}"
        for module, path in _source_modules().items()
        if not module.startswith("render_cli")
        for name in _imported_names(ast.parse(path.read_text()))
        if name.split(".")[0] == "render_cli"
    ]
    assert offenders == []


def _import_graph() -> dict[str, set[str]]:
    modules = _source_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {name for name in _imported_names(ast.parse(path.read_text())) if name in modules}
        graph[module] = targets - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_files() -> None:
    # Packages' own __init__ modules re-export their members; a package importing its
    # children is not a cycle between files.
    graph = {
        module: {t for t in targets if not module or not t.startswith(f"{module}.")}
        for module, targets in _import_graph().items()
    }
    assert _cycles(graph) == []
