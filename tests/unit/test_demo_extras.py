"""The README's main command installs what the demo imports.

``scripts/demo`` sets up only some extras (a laptop needs no torch). Every third-party
module that the demo's code imports at module level, following our own modules, must
come from the base dependencies or those extras, or from what they depend on: a fresh
clone would otherwise fail where the full development environment hides the gap.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
OURS = {
    "render_cli": REPO / "render_cli",
    "render_core": REPO / "render_core",
    "producer_api": REPO / "producer_api",
    "workers": REPO / "workers",
    "dispatcher": REPO / "dispatcher",
    "avatar_render_client": REPO / "clients" / "python" / "src" / "avatar_render_client",
}


def _demo_extras() -> list[str]:
    match = re.search(r"^scripts/setup ([\w,]+)", (REPO / "scripts" / "demo").read_text(), re.M)
    assert match, "scripts/demo does not run scripts/setup with its extras"
    return match.group(1).split(",")


def _module_file(name: str) -> Path | None:
    top, *rest = name.split(".")
    base = OURS[top].joinpath(*rest)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported (not inside functions or TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _third_party_imports(start: str) -> set[str]:
    seen, found, todo = set(), set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top in OURS:
            path = _module_file(name)
            if path is not None:
                todo += sorted(_top_level_imports(path))
                parent = name.rpartition(".")[0]  # importing a.b.c runs a/b/__init__ first
                if parent:
                    todo.append(parent)
        elif top not in sys.stdlib_module_names and top != "__future__":
            found.add(top)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements bring, and what those require in turn."""
    closure: set[str] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = _normal(requirement.name)
        if name in closure:
            continue
        closure.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            nested = Requirement(text)
            extras = requirement.extras or {""}
            if nested.marker is None or any(
                nested.marker.evaluate({"extra": extra}) for extra in extras
            ):
                todo.append(nested)
    return closure


def test_the_demo_installs_every_package_it_imports() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    chosen = [*project["dependencies"]]
    for extra in _demo_extras():
        chosen += project["optional-dependencies"][extra]
    allowed = _installed_closure([Requirement(text) for text in chosen])
    distributions = metadata.packages_distributions()
    missing = {
        module: distributions.get(module, [module])
        for module in _third_party_imports("render_cli.demo")
        if not any(_normal(d) in allowed for d in distributions.get(module, [module]))
    }
    assert not missing, f"scripts/demo's extras {_demo_extras()} lack {missing}"
