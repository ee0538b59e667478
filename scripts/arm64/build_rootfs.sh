#!/usr/bin/env bash
# Builds (once) a Debian arm64 userland with python3 + venv, run through qemu user-mode.
# Idempotent: a marker file records a finished build; rerun with ARM64_REBUILD=1 to redo.
set -euo pipefail
# shellcheck source=scripts/arm64/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
ensure_binfmt

marker="${ARM64_ROOTFS}/.avatar-render-rootfs-ok"
if [[ -f "$marker" && "${ARM64_REBUILD:-0}" != 1 ]]; then
    log "rootfs ready at ${ARM64_ROOTFS}"
    exit 0
fi

mkdir -p "$ARM64_CACHE_DIR"
# Two runs at once would each delete the other's half-built rootfs: serialise them.
exec 9>"${ARM64_CACHE_DIR}/.build.lock"
flock --wait 3600 9 || die "another rootfs build holds ${ARM64_CACHE_DIR}/.build.lock"
if [[ -f "$marker" && "${ARM64_REBUILD:-0}" != 1 ]]; then
    log "rootfs ready at ${ARM64_ROOTFS} (built by a concurrent run)"
    exit 0
fi
if [[ -d "$ARM64_ROOTFS" ]]; then
    # A half-finished debootstrap cannot be resumed reliably; start over.
    log "removing incomplete rootfs ${ARM64_ROOTFS}"
    rm -rf --one-file-system "$ARM64_ROOTFS"
fi

# --variant=minbase keeps the emulated second stage short; with binfmt registered
# debootstrap runs the second stage itself. python3-venv brings ensurepip's wheels,
# so the venv needs nothing from the network later.
log "debootstrap ${ARM64_SUITE} arm64 into ${ARM64_ROOTFS} (10-20 min under qemu)"
timeout 3600 debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,ca-certificates \
    "$ARM64_SUITE" "$ARM64_ROOTFS" "$ARM64_MIRROR"

arch="$(chroot "$ARM64_ROOTFS" /usr/bin/uname -m)"
[[ "$arch" == aarch64 ]] || die "chroot reports $arch, expected aarch64"
pyver="$(chroot "$ARM64_ROOTFS" /usr/bin/python3 -c \
    'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[[ "$pyver" == "$ARM64_PYTHON_VERSION" ]] \
    || die "chroot python is $pyver, expected $ARM64_PYTHON_VERSION"

touch "$marker"
log "rootfs ready: $arch, python $pyver"
