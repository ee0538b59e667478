#!/usr/bin/env bash
# Runs one command inside the arm64 rootfs:
#   chroot_run.sh [--bind HOST_DIR]... [--env NAME=VALUE]... [--user UID:GID] -- COMMAND...
# Each --bind directory appears inside at the same path; --user drops root for COMMAND.
# Everything happens in a private mount namespace: the mounts vanish with the command,
# even if it is killed, and never show on the host. The command keeps this process's pid (unshare and chroot exec), so a
# caller can signal it directly. Networking is the host's: 127.0.0.1 is shared.
set -euo pipefail
# shellcheck source=scripts/arm64/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${ARM64_IN_MOUNT_NS:-0}" != 1 ]]; then
    need_root
    exec env ARM64_IN_MOUNT_NS=1 unshare --mount --propagation private -- "$0" "$@"
fi

binds=()
envs=()
userspec=0:0
while (($#)); do
    case "$1" in
        --bind) binds+=("$2"); shift 2 ;;
        --env) envs+=("$2"); shift 2 ;;
        --user) userspec="$2"; shift 2 ;;
        --) shift; break ;;
        *) die "chroot_run.sh: unknown argument $1" ;;
    esac
done
(($#)) || die "chroot_run.sh: no command given"
[[ -f "${ARM64_ROOTFS}/.avatar-render-rootfs-ok" ]] || die "no rootfs; run build_rootfs.sh"

root="$ARM64_ROOTFS"
mount -t proc proc "${root}/proc"
mount -t sysfs -o ro sysfs "${root}/sys"
mount --bind /dev "${root}/dev"
# Celery's prefork pool needs POSIX semaphores, which live in /dev/shm.
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "${root}/dev/shm"
arm_cpu_view "$root"
for dir in "${binds[@]}"; do
    mkdir -p "${root}${dir}"
    mount --bind "$dir" "${root}${dir}"
done

exec chroot --userspec="$userspec" "$root" /usr/bin/env -i \
    HOME=/tmp LANG=C.UTF-8 PYTHONUNBUFFERED=1 \
    PATH=/opt/avatar-render/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
    "${envs[@]}" "$@"
