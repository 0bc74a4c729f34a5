#!/usr/bin/env bash
# Check this machine's GPUs against a declared spec, read-only (nvidia-smi queries only;
# nothing changes a GPU's settings, MIG included). Finishes in well under 2 minutes.
#
#   scripts/gpu-node-check.sh                       # '1 x H200-141GB, MIG disabled'
#   scripts/gpu-node-check.sh 'p5en.48xlarge'       # an instance type from the catalog
#   scripts/gpu-node-check.sh 'prod/heavy-h100'     # a pool of a stack
#
# Needs python3 with PyYAML and pytest, and nvidia-smi (NVIDIA_SMI overrides the
# command, e.g. 'chroot /host nvidia-smi'). pytest-testinfra is taken from the
# environment, else from .whl/ (`make gpu-wheels` puts its wheel there; carry .whl
# to a machine without internet); without it the same checks run with plain python3.
# Exit status: 0 when the node matches, 1 when it does not, 2 for a bad spec.
set -uo pipefail

SPEC="${1:-${GPU_SPEC:-1 x H200-141GB, MIG disabled}}"
PY="${PYTHON:-python3}"
NVSMI="${NVIDIA_SMI:-nvidia-smi}"
LIMIT="${GPU_CHECK_TIMEOUT:-90}"
SITE="${GPU_CHECK_SITE:-/tmp/gpu-check-site}"
cd "$(dirname "$0")/.." || exit 2

echo "== spec: $SPEC"
echo "== nvidia-smi, read-only query"
$NVSMI --query-gpu=index,name,memory.total,driver_version,mig.mode.current --format=csv \
  || echo "(nvidia-smi failed: the checks below will say so)"

if ! "$PY" -c "import testinfra" 2>/dev/null; then
  shopt -s nullglob
  wheels=(.whl/pytest_testinfra-*.whl)
  if ((${#wheels[@]})); then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target "$SITE" "${wheels[@]}" \
      && export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  fi
fi

if "$PY" -c "import testinfra, pytest, yaml" 2>/dev/null; then
  echo "== testinfra suite, --hosts=local"
  exec timeout "$LIMIT" "$PY" -m pytest tests/infra --confcutdir=tests/infra --hosts=local \
    --gpu-spec "$SPEC" --nvidia-smi "$NVSMI" -v -s -p no:cacheprovider
else
  echo "== plain python3 checks (pytest-testinfra not available)"
  exec timeout "$LIMIT" "$PY" -m tests.infra.gpu_spec --gpu-spec "$SPEC" --nvidia-smi "$NVSMI"
fi
