#!/usr/bin/env bash
# Proves a worker runs on ARM64: a Debian arm64 userland under qemu user-mode emulation
# runs `avatar-render worker`, and a render submitted through the API on this (x86_64)
# host completes on it.
#
#   sudo scripts/arm64_render.sh                 the mock worker
#   sudo scripts/arm64_render.sh liveportrait    the GPU worker's packages (torch's CUDA
#                                                aarch64 wheels included) running
#                                                LivePortrait on the CPU, synthetic weights
#
# Host side (this machine): a private redis-server and the API on free 127.0.0.1 ports.
# ARM64 side (chroot): the only worker; it shares the loopback with the host and sees the
# storage directory at the same path. The first run builds the rootfs (10-20 minutes
# under qemu) in ARM64_CACHE_DIR (default /var/cache/avatar-render-arm64); later runs
# reuse it. Run outputs go to var/arm64-proof/ (git-ignored). Needs root.
# The LivePortrait run renders a 256 px clip of 3 frames: under emulation a frame takes
# many minutes (the worker's load and two warm-up frames took 44 minutes on a busy
# 2-core machine), so the run takes hours and is not part of CI.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arm64="${repo}/scripts/arm64"
# shellcheck source=scripts/arm64/lib.sh
source "${arm64}/lib.sh"

host_venv="${repo}/.venv"
run_dir="${repo}/var/arm64-proof"
storage="${run_dir}/storage"
logs="${run_dir}/logs"
api_key="arm64-proof-key"
# The arm64 worker's uid:gid. Root by default because the API here runs as root (the
# host venv's interpreter sits under /root) and the local store writes files mode 0600,
# so another uid could not read the uploaded portrait. With that fixed, 65534:65534
# runs the worker unprivileged, as in the containers.
worker_user="${ARM64_WORKER_USER:-0:0}"
renderer="${1:-mock}"
pids=()

free_port() {
    "${host_venv}/bin/python" -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds, or fails with
# status 2 (it never will); every wait is bounded.
wait_for() {
    local deadline=$((SECONDS + $1)) what="$2"
    shift 2
    local status
    until "$@" >/dev/null 2>&1; do
        status=$?
        ((status != 2)) || return 1
        ((SECONDS < deadline)) || { log "timed out waiting for ${what}"; return 1; }
        sleep 1
    done
}

# worker_ready PID URL: the API's /readyz answers 200; fails for good once PID has exited.
worker_ready() {
    kill -0 "$1" 2>/dev/null || { log "the arm64 worker exited"; return 2; }
    curl -sf --max-time 5 "${2}/readyz"
}

# Newest first, one at a time: the worker stops while Redis still answers its last calls.
stop_children() {
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid="${pids[i]}"
        kill -TERM "$pid" 2>/dev/null || continue
        # Celery's warm shutdown under qemu takes a few seconds; then force.
        timeout 30 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    # A pool child orphaned by a forced stop still runs in the chroot: those are ours too.
    local proc
    for proc in /proc/[0-9]*; do
        if [[ "$(readlink "${proc}/root" 2>/dev/null)" == "$ARM64_ROOTFS" ]]; then
            kill -KILL "${proc#/proc/}" 2>/dev/null || true
        fi
    done
}

show_logs() {
    local f
    for f in "$logs"/*.log; do
        [[ -f "$f" ]] || continue
        log "---- last lines of ${f}"
        tail -n 25 "$f" >&2
    done
}

# The kit's rule weights, written on the host (fast) once and kept with the rootfs; the
# strict loader checks them before every run.
synthetic_weights() {
    if ! "${host_venv}/bin/avatar-render" weights verify "$ARM64_WEIGHTS" >/dev/null 2>&1; then
        rm -rf "$ARM64_WEIGHTS"
        "${host_venv}/bin/avatar-render" weights synth "$ARM64_WEIGHTS" >&2
    fi
}

main() {
    need_root
    [[ -x "${host_venv}/bin/avatar-render" ]] || die "no ${host_venv}; install the project first"
    [[ "$renderer" == mock || "$renderer" == liveportrait ]] \
        || die "usage: arm64_render.sh [mock|liveportrait]"
    local started="$SECONDS"

    log "step 1/5: arm64 rootfs"
    "${arm64}/build_rootfs.sh"
    log "step 2/5: aarch64 wheel set (${renderer} worker)"
    if [[ "$renderer" == liveportrait ]]; then
        # Exactly what Dockerfile.gpu installs: its extras, with its pins.
        ARM64_EXTRAS="$("${host_venv}/bin/python" "${repo}/scripts/gpu_wheels_check.py" --extras)" \
            ARM64_CONSTRAINTS="${repo}/gpu-worker-constraints.txt" "${arm64}/fetch_wheels.sh"
    else
        "${arm64}/fetch_wheels.sh"
    fi
    log "step 3/5: venv inside the rootfs"
    "${arm64}/install_venv.sh"

    log "step 4/5: host-side redis and API, arm64 worker"
    rm -rf "$run_dir"
    mkdir -p "$storage" "$logs" "${run_dir}/redis"
    chown "$worker_user" "$storage"
    # INT/TERM become a normal exit, so the EXIT trap stops everything this script started.
    trap 'stop_children' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local redis_port api_port api_url redis_url
    redis_port="$(free_port)"
    api_port="$(free_port)"
    api_url="http://127.0.0.1:${api_port}"
    redis_url="redis://127.0.0.1:${redis_port}/0"

    # Renderer-specific settings for the API and the worker, as NAME=VALUE words.
    local settings=(RENDER_RENDERER="$renderer") worker_args=(--renderer "$renderer")
    local binds=(--bind "$storage") ready_s=300 render_s=300 clip=(--duration-ms 1000 --fps 12)
    if [[ "$renderer" == liveportrait ]]; then
        synthetic_weights
        # A frame takes minutes under emulation: budget the attempt, its lease and the
        # model's load for that, or the reaper would retry a live render.
        settings+=(RENDER_DEVICE=cpu RENDER_WEIGHTS_DIR="$ARM64_WEIGHTS"
            RENDER_WORKER_START_TIMEOUT_S=10800 RENDER_EXPECTED_FRAME_S=3600
            RENDER_TIME_LIMIT_FLOOR_S=10800 RENDER_LEASE_TTL_S=600)
        worker_args+=(--device cpu)
        binds+=(--bind "$ARM64_WEIGHTS")
        ready_s=2400
        render_s=14400
        clip=(--duration-ms 500 --fps 6)
    fi

    /usr/bin/redis-server --bind 127.0.0.1 --port "$redis_port" --dir "${run_dir}/redis" \
        --save "" --appendonly no >"${logs}/redis.log" 2>&1 &
    pids+=("$!")
    wait_for 30 "redis-server" /usr/bin/redis-cli -p "$redis_port" ping

    env RENDER_REDIS_URL="$redis_url" RENDER_STORAGE_URL="file://${storage}" \
        RENDER_API_KEYS="arm64:${api_key}" "${settings[@]}" \
        "${host_venv}/bin/avatar-render" api --host 127.0.0.1 --port "$api_port" \
        >"${logs}/api.log" 2>&1 &
    pids+=("$!")
    wait_for 60 "the API's /healthz" curl -sf --max-time 2 "${api_url}/healthz" \
        || { show_logs; return 1; }

    local arch
    arch="$("${arm64}/chroot_run.sh" -- /usr/bin/uname -m)"
    echo "== inside the chroot:"
    echo "uname -m: ${arch}"
    "${arm64}/chroot_run.sh" -- python -c \
        'import platform; print("python:", platform.python_version(), platform.machine())'
    [[ "$arch" == aarch64 ]] || die "chroot is not aarch64"

    # The only worker on this Redis: whatever renders the job ran on arm64.
    local envs=() setting
    for setting in RENDER_REDIS_URL="$redis_url" RENDER_STORAGE_URL="file://${storage}" \
        "${settings[@]}"; do
        envs+=(--env "$setting")
    done
    "${arm64}/chroot_run.sh" "${binds[@]}" --user "$worker_user" "${envs[@]}" \
        -- avatar-render worker "${worker_args[@]}" --name "arm64-${renderer}" --concurrency 1 \
        >"${logs}/worker-arm64.log" 2>&1 &
    pids+=("$!")
    # /readyz turns 200 once a worker consumes; interpreter start (and, for LivePortrait,
    # importing torch and loading the model) under qemu is slow.
    wait_for "$ready_s" "the arm64 worker (API /readyz)" worker_ready "${pids[-1]}" "$api_url" \
        || { show_logs; return 1; }
    log "arm64 worker ready after $((SECONDS - started)) s"

    log "step 5/5: submit a render from the host and wait for it"
    # In the background and waited for: `wait` returns at once on INT/TERM, a foreground
    # command would hold the traps until it ends.
    local out="${run_dir}/submit.out" job_id submit_pid render_started="$SECONDS"
    env RENDER_API_URL="$api_url" RENDER_API_KEY="$api_key" timeout "$render_s" \
        "${host_venv}/bin/avatar-render" submit "${repo}/render_cli/assets/astronaut.png" \
        --emotion happy --intensity 0.8 "${clip[@]}" --size 256 >"$out" 2>&1 &
    submit_pid="$!"
    pids+=("$submit_pid")
    if ! wait "$submit_pid"; then
        cat "$out"
        show_logs
        return 1
    fi
    cat "$out"
    log "render took $((SECONDS - render_started)) s"
    job_id="$(sed -n 's/^job \([^ ]*\) queued$/\1/p' "$out")"
    [[ -n "$job_id" ]] || die "no job id in the submit output"

    echo "== result:"
    "${host_venv}/bin/python" "${arm64}/report.py" --api-url "$api_url" --api-key "$api_key" \
        --storage "$storage" --renderer "$renderer" --machine aarch64 "$job_id"
    echo "== worker (from its log):"
    grep -m1 -oE 'Linux-[^ ]*' "${logs}/worker-arm64.log" | sed 's/^/platform: /' || true
    grep -m1 -oE "arm64-${renderer}@[^ ]* ready" "${logs}/worker-arm64.log" || true
    grep -m1 -oE 'LivePortrait ready on .*' "${logs}/worker-arm64.log" || true
    echo "ARM64 ${renderer} render: OK in $((SECONDS - started)) s (logs and outputs in ${run_dir})"
}

main "$@"
