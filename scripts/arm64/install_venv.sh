#!/usr/bin/env bash
# Installs the project and its runtime wheels into a venv inside the arm64 rootfs, offline,
# from the wheel set fetch_wheels.sh made. Dependencies are reinstalled only when the
# wheel set changes (pip under qemu is slow); the project's own wheel every time.
set -euo pipefail
# shellcheck source=scripts/arm64/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(dirname "${BASH_SOURCE[0]}")"
venv=/opt/avatar-render
stamp="${ARM64_ROOTFS}${venv}/.deps-stamp"
want="$(cd "$ARM64_WHEELS" && find . -name '*.whl' ! -name 'avatar_render-*' | sort \
    | cat - requirements.txt | sha256sum | cut -d' ' -f1)"

pip_in_chroot() {
    timeout 1800 "${here}/chroot_run.sh" --bind "$ARM64_WHEELS" -- \
        "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-index --find-links "$ARM64_WHEELS" "$@"
}

if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    log "creating ${venv} in the rootfs and installing dependencies (slow under qemu)"
    rm -rf "${ARM64_ROOTFS:?}${venv}"
    timeout 600 "${here}/chroot_run.sh" -- /usr/bin/python3 -m venv "$venv"
    pip_in_chroot -r "${ARM64_WHEELS}/requirements.txt"
    printf '%s\n' "$want" >"$stamp"
fi

project_wheel="$(find "$ARM64_WHEELS" -name 'avatar_render-*.whl' | head -n1)"
[[ -n "$project_wheel" ]] || die "no avatar_render wheel in ${ARM64_WHEELS}"
log "installing $(basename "$project_wheel") into the rootfs venv"
pip_in_chroot --no-deps --force-reinstall "$project_wheel"
