#!/usr/bin/env bash
# Installs the project and its runtime wheels into a venv inside the arm64 rootfs, offline,
# from the wheel set fetch_wheels.sh made. Dependencies are reinstalled only when the
# wheel set changes (pip under qemu is slow); the project's own wheels (the project and its
# client SDK) every time.
set -euo pipefail
# shellcheck source=scripts/arm64/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$(dirname "${BASH_SOURCE[0]}")"
venv=/opt/avatar-render
stamp="${ARM64_ROOTFS}${venv}/.deps-stamp"
want="$(cd "$ARM64_WHEELS" && find . -name '*.whl' ! -name 'avatar_render*' | sort \
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

mapfile -t own_wheels < <(find "$ARM64_WHEELS" -name 'avatar_render*.whl' | sort)
((${#own_wheels[@]} == 2)) || die "expected the avatar_render and client wheels in ${ARM64_WHEELS}"
log "installing ${own_wheels[*]##*/} into the rootfs venv"
pip_in_chroot --no-deps --force-reinstall "${own_wheels[@]}"
