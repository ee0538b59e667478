#!/usr/bin/env bash
# Downloads aarch64 wheels for the project's runtime dependencies on this (x86_64) host,
# so the emulated chroot installs them offline: pip under qemu is slow, and resolving
# here keeps the chroot free of network access.
set -euo pipefail
# shellcheck source=scripts/arm64/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
host_python="${HOST_PYTHON:-${repo}/.venv/bin/python}"
# worker: the mock worker's runtime. ops: prometheus-client for the worker's metrics.
# The LivePortrait proof passes the GPU worker's extras and its pins (ARM64_CONSTRAINTS).
extras="${ARM64_EXTRAS:-worker,ops}"
constraints=()
if [[ -n "${ARM64_CONSTRAINTS:-}" ]]; then
    constraints=(--constraint "$ARM64_CONSTRAINTS")
fi
abi="cp${ARM64_PYTHON_VERSION/./}"
# The chroot's exact version, for the Requires-Python checks of --python-version.
[[ -f "${ARM64_ROOTFS}/.avatar-render-rootfs-ok" ]] || die "no rootfs; run build_rootfs.sh"
python_full="$(chroot "$ARM64_ROOTFS" /usr/bin/python3 -c 'import platform; print(platform.python_version())')"

# A fresh set each run (pip's own cache makes it quick): no stale versions linger, so
# install_venv.sh's stamp of the set changes only when the dependencies do.
mkdir -p "$ARM64_WHEELS"
rm -f "$ARM64_WHEELS"/*.whl
reqs="${ARM64_WHEELS}/requirements.txt"
"$host_python" "${repo}/scripts/arm64/requirements.py" "${repo}/pyproject.toml" "$extras" >"$reqs"
# pip evaluates environment markers with the interpreter it runs on (here x86_64, a newer
# 3.11), whatever --platform/--python-version say. Name what the chroot's markers add:
# redis needs async-timeout on Python < 3.11.3 (bookworm: 3.11.2). A gap here shows as
# "No matching distribution" in install_venv.sh, which installs offline.
printf '%s\n' "async-timeout>=4.0.3" >>"$reqs"
log "downloading aarch64 wheels for extras '${extras}' (python ${python_full})"

# pip does not widen --platform to older manylinux tags by itself, so name every glibc
# level up to bookworm's 2.36 (nvidia-nccl, for one, ships manylinux_2_18 only); pure-Python
# wheels match through the 'any' platform.
platforms=(--platform manylinux2014_aarch64)
for minor in $(seq 17 36); do
    platforms+=(--platform "manylinux_2_${minor}_aarch64")
done

# From PyPI alone, as the image resolves: --isolated and no config file leave out this
# machine's local wheel folders, extra indexes and constraints.
PIP_CONFIG_FILE=/dev/null timeout 900 "$host_python" -m pip download --isolated --quiet \
    --disable-pip-version-check --index-url https://pypi.org/simple \
    --dest "$ARM64_WHEELS" --only-binary=:all: \
    "${platforms[@]}" --implementation cp --python-version "$python_full" \
    --abi "$abi" --abi abi3 --abi none \
    "${constraints[@]}" -r "$reqs"

# The project and its client SDK are pure Python: build their wheels here with the host's
# build backend, from the working tree as it is now.
timeout 300 "$host_python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --wheel-dir "$ARM64_WHEELS" "$repo" "${repo}/clients/python"

count="$(find "$ARM64_WHEELS" -name '*.whl' | wc -l)"
log "wheel set ready: ${count} wheels in ${ARM64_WHEELS}"
