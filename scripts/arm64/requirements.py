"""Print the project's runtime requirements from the index (base + chosen extras), one per line.

The ARM64 proof downloads wheels for exactly these, and the GPU wheel check resolves them,
so the list follows pyproject.toml instead of a copy that could drift from it. The
client SDK, a path inside this repository, is left out: callers build its wheel here.
"""

import argparse
import sys
import tomllib
from pathlib import Path

LOCAL_REFERENCE = "{root:uri}"


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"unknown extras: {', '.join(unknown)}")
    reqs: list[str] = list(project["dependencies"])
    for extra in extras:
        reqs.extend(optional[extra])
    return [req for req in reqs if LOCAL_REFERENCE not in req]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("extras", help="comma-separated extras, e.g. worker,ops")
    args = parser.parse_args()
    extras = [extra for extra in args.extras.split(",") if extra]
    sys.stdout.write("".join(f"{req}\n" for req in requirements(args.pyproject, extras)))


if __name__ == "__main__":
    main()
