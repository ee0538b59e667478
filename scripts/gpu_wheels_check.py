#!/usr/bin/env python3
"""Resolve the GPU worker's requirements for x86_64 and aarch64 from PyPI wheels alone.

For each architecture pip's resolver runs with ``--platform``, ``--only-binary=:all:`` and
``--dry-run --report``: it reads wheel metadata only (PEP 658), never the multi-gigabyte
CUDA wheels, so the check is quick enough for CI. It fails when any requirement lacks a
wheel for either architecture, when torch is not the pinned version, or when torch
resolves without its CUDA libraries. The extras are the ones Dockerfile.gpu installs and
the pins are gpu-worker-constraints.txt, so the check follows the image.

    scripts/gpu_wheels_check.py             check both architectures
    scripts/gpu_wheels_check.py --extras    print the worker's extras (for other scripts)
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "arm64"))
from requirements import requirements  # a sibling script, not a package

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile.gpu"
CONSTRAINTS = REPO / "gpu-worker-constraints.txt"
ARCHITECTURES = ("x86_64", "aarch64")
PYTHON_VERSION = "3.11"
# The image's base (Debian bookworm) has glibc 2.36; pip does not widen --platform to
# older manylinux levels by itself, so every level is named.
GLIBC_MINORS = range(17, 37)
CUDA_MARKER = "nvidia-cudnn-cu13"
UNWANTED = ("onnxruntime", "onnxruntime-gpu")


def worker_extras() -> str:
    match = re.search(r"^ARG WORKER_EXTRAS=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no 'ARG WORKER_EXTRAS=' line in {DOCKERFILE}")
    return match.group(1)


def pinned(name: str) -> str:
    for line in CONSTRAINTS.read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit(f"{CONSTRAINTS} pins no {name}")


def platform_args(arch: str) -> list[str]:
    tags = [f"manylinux2014_{arch}"] + [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS]
    return [arg for tag in tags for arg in ("--platform", tag)]


def resolve(arch: str, reqs_file: Path, report: Path) -> list[dict[str, object]]:
    """pip's resolution for one architecture, from PyPI only (no local mirrors or pins)."""
    command = [
        sys.executable, "-m", "pip", "install", "--isolated", "--quiet", "--dry-run",
        "--ignore-installed", "--report", str(report), "--only-binary=:all:",
        "--index-url", "https://pypi.org/simple",
        *platform_args(arch), "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--abi", f"cp{PYTHON_VERSION.replace('.', '')}", "--abi", "abi3", "--abi", "none",
        "--constraint", str(CONSTRAINTS), "--requirement", str(reqs_file),
    ]  # fmt: skip
    # A machine's pip configuration may add local wheel folders or caps: leave them out.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"{arch}: pip could not resolve from wheels:\n{result.stderr.strip()}")
    items: list[dict[str, object]] = json.loads(report.read_text())["install"]
    return items


def problems(arch: str, items: list[dict[str, object]], torch_pin: str) -> list[str]:
    found: dict[str, str] = {}
    bad = []
    for item in items:
        metadata = item["metadata"]
        url = item["download_info"]["url"]  # type: ignore[index]
        assert isinstance(metadata, dict) and isinstance(url, str)
        name = str(metadata["name"]).lower().replace("_", "-")
        found[name] = str(metadata["version"])
        if not url.split("#", 1)[0].endswith(".whl"):
            bad.append(f"{arch}: {name} is not a wheel ({url})")
    if found.get("torch") != torch_pin:
        bad.append(f"{arch}: torch resolved to {found.get('torch')}, pinned {torch_pin}")
    if CUDA_MARKER not in found:
        bad.append(f"{arch}: torch came without its CUDA libraries (no {CUDA_MARKER})")
    bad += [f"{arch}: {name} is in the worker's set" for name in UNWANTED if name in found]
    cuda_libs = sorted(name for name in found if name.startswith(("nvidia-", "cuda-")))
    print(
        f"{arch}: {len(found)} wheels, torch {found.get('torch')}, triton "
        f"{found.get('triton', 'none')}, {len(cuda_libs)} CUDA wheels ({', '.join(cuda_libs)})"
    )
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", action="store_true", help="print the worker's extras")
    args = parser.parse_args()
    extras = worker_extras()
    if args.extras:
        print(extras)
        return 0
    torch_pin = pinned("torch")
    print(f"GPU worker extras [{extras}], torch=={torch_pin}, Python {PYTHON_VERSION}")
    failures = []
    with tempfile.TemporaryDirectory(prefix="gpu-wheels-") as tmp:
        reqs_file = Path(tmp) / "requirements.txt"
        reqs_file.write_text(
            "".join(f"{req}\n" for req in requirements(REPO / "pyproject.toml", extras.split(",")))
        )
        for arch in ARCHITECTURES:
            items = resolve(arch, reqs_file, Path(tmp) / f"{arch}.json")
            failures += problems(arch, items, torch_pin)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print("GPU worker wheels: FAILED" if failures else "GPU worker wheels: OK (x86_64, aarch64)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
