# shellcheck shell=bash
# Shared settings and helpers for the ARM64 render proof.
# Sourced by scripts/arm64_render.sh and the scripts beside this file, which read
# the variables set here (hence SC2034 off for this file).
# shellcheck disable=SC2034

# The rootfs (about 300 MB, root-owned, slow to build) lives outside the repo by default,
# so every checkout shares one and repo-walking tools never descend into it.
ARM64_CACHE_DIR="${ARM64_CACHE_DIR:-/var/cache/avatar-render-arm64}"
ARM64_ROOTFS="${ARM64_CACHE_DIR}/rootfs"
ARM64_WHEELS="${ARM64_CACHE_DIR}/wheels"
# The conformance kit's synthetic LivePortrait weights for the emulated render (520 MB).
ARM64_WEIGHTS="${ARM64_CACHE_DIR}/liveportrait-weights"
ARM64_SUITE="${ARM64_SUITE:-bookworm}"
ARM64_MIRROR="${ARM64_MIRROR:-http://deb.debian.org/debian}"
# bookworm ships Python 3.11, the version the project targets.
ARM64_PYTHON_VERSION="${ARM64_PYTHON_VERSION:-3.11}"

log() { printf '[arm64] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() {
    [[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot and bind mounts)"
}

# Registers qemu-aarch64 with binfmt_misc so the kernel runs arm64 ELF files through
# qemu; the F flag (set by Debian's qemu-user-static) opens the interpreter at
# registration, so the chroot needs no copy of qemu inside it.
ensure_binfmt() {
    local pkgs=()
    command -v qemu-aarch64-static >/dev/null || pkgs+=(qemu-user-static)
    command -v update-binfmts >/dev/null || pkgs+=(binfmt-support)
    command -v debootstrap >/dev/null || pkgs+=(debootstrap)
    if ((${#pkgs[@]})); then
        log "installing ${pkgs[*]}"
        timeout 600 apt-get update -qq
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${pkgs[@]}"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        update-binfmts --enable qemu-aarch64
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || die "binfmt entry qemu-aarch64 is not enabled"
}

# qemu-user emulates the instructions, not the kernel's view of the CPU: /proc/cpuinfo and
# /sys/devices/system/cpu still describe the x86 host. oneDNN (inside torch) reads the ARM
# CPU's identity (MIDR_EL1) from sysfs and crashes without it, so ROOT gets an ARM view
# (a Neoverse N1 per host CPU) in the caller's mount namespace. Features still come from
# qemu (the auxiliary vector), so nothing here promises an instruction qemu lacks.
arm_cpu_view() {
    local root="$1" sys="${1}/sys/devices/system/cpu" cpuinfo cpus cpu
    cpus="$(nproc --all)"
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$sys"
    printf '0-%d\n' "$((cpus - 1))" | tee "${sys}/online" "${sys}/possible" "${sys}/present" \
        >/dev/null
    cpuinfo="$(mktemp /tmp/arm64-cpuinfo.XXXXXX)"
    for ((cpu = 0; cpu < cpus; cpu++)); do
        mkdir -p "${sys}/cpu${cpu}/regs/identification"
        echo 1 >"${sys}/cpu${cpu}/online"
        echo 0x00000000413fd0c1 >"${sys}/cpu${cpu}/regs/identification/midr_el1"
        printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd cpuid\n' "$cpu"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\n'
        printf 'CPU part\t: 0xd0c\nCPU revision\t: 1\n\n'
    done >"$cpuinfo"
    mount --bind "$cpuinfo" "${root}/proc/cpuinfo"
    rm -f "$cpuinfo"  # the mount keeps the file itself
}
