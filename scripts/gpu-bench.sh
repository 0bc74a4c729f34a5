#!/usr/bin/env bash
# The batching benchmark on an NVIDIA GPU, in one call of under 8 minutes.
#
# Prepare here:   bash scripts/gpu-bundle.sh          (writes build/gpu-bundle, < 64 MiB)
# Run there:      device tool, carry ["build/gpu-bundle"], command "bash scripts/gpu-bench.sh"
#
# What the GPU machine must have (seen on the lent H200, shared/DESIGN.md): an NVIDIA
# driver, /usr/bin/python3 3.12 with venv, libpython3.12 in /usr/lib/x86_64-linux-gnu,
# PyTorch with CUDA in $TORCH_VENV (default /opt/torch/.venv). No network: everything
# else comes from the bundle. The models' numpy must be < 2 (Triton's Python backend
# stub), so a venv of /usr/bin/python3 gets numpy 1.26 and a .pth naming PyTorch's
# site-packages after its own.
#
# It benchmarks text_embedding's `gpu` variant (KIND_GPU, PyTorch on CUDA) in both arms
# (shipped batching vs none), writes $OUT/batching.{csv,json} and prints the table.
# Weights: the real MiniLM weights (90 MB) do not fit the carry; unless WEIGHTS names a
# folder holding model.safetensors and vocab.txt, the model runs on seeded stand-in
# weights of the same shapes (same compute; the embeddings are meaningless), and
# batching.json says so. Redraw the PNG back here:
#   .venv/bin/python -m tools.bench.batching --replot <files_at>/batching.json
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${BUNDLE:-build/gpu-bundle}
# The device tool sets OUT to a folder whose contents come back.
OUT=${OUT:-build/bench-gpu}
TORCH_VENV=${TORCH_VENV:-/opt/torch/.venv}
WORK=${WORK:-/tmp/llm-inference-gpu-bench}
PY3=${PY3:-/usr/bin/python3}
WEIGHTS=${WEIGHTS:-stand-in}
CONCURRENCY=${CONCURRENCY:-1,4,16,64,128}
MODEL=${MODEL:-text_embedding}
VARIANT=${VARIANT-gpu}
THREADS=${THREADS:-2}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-400}

start=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
[ -f "$BUNDLE/triton.tar.xz" ] || { echo "no $BUNDLE/triton.tar.xz: run scripts/gpu-bundle.sh and carry it"; exit 2; }
[ -x "$TORCH_VENV/bin/python" ] || { echo "no PyTorch venv at $TORCH_VENV (set TORCH_VENV)"; exit 2; }

rm -rf "$WORK" && mkdir -p "$WORK"
"$PY3" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --no-index --find-links "$BUNDLE/wheels" \
  numpy==1.26.4 requests PyYAML protobuf grpcio typing-extensions python-rapidjson packaging
tar -C "$WORK" -xJf "$BUNDLE/triton.tar.xz"
SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mv "$WORK/tritonclient" "$SITE/"
TORCH_SITE=$("$TORCH_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# After the venv's own site-packages: numpy 1.26 wins, torch is found.
echo "$TORCH_SITE" > "$SITE/zz_torch_site.pth"
"$WORK/venv/bin/python" -c 'import numpy, torch; print("numpy", numpy.__version__, "torch", torch.__version__, "cuda", torch.cuda.is_available())'

export TRITON_HOME="$WORK/pytriton/tritonserver"
export TRITON_LIBS="$WORK/nvidia_pytriton.libs"
export PERF_ANALYZER="$WORK/bin/perf_analyzer"
# perf_analyzer links libcudart.so.12 and libb64.so.0d by their plain names; the
# server's own copies carry hashed names: link them under the plain ones.
mkdir -p "$WORK/lib"
ln -sf "$(ls "$TRITON_LIBS"/libcudart-*.so.12* | head -1)" "$WORK/lib/libcudart.so.12"
ln -sf "$(ls "$TRITON_LIBS"/libb64-*.so.0d | head -1)" "$WORK/lib/libb64.so.0d"
export CUDART_LIB_DIR="$WORK/lib"
export LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TRITON_WORK_DIR="$WORK/triton"
export PYTHONPATH="$PWD"
export BENCH_NOTE="Triton 2.51 from nvidia-pytriton 0.7.0, perf_analyzer from tritonclient 2.51.0 (scripts/gpu-bundle.sh)"
# The bundle's packages are not installed distributions there: say which they are.
export BENCH_VERSION_TRITONCLIENT=$(sed -n 's/^tritonclient==//p' constraints.txt)
export BENCH_VERSION_NVIDIA_PYTRITON=$(sed -n 's/^nvidia-pytriton==//p' constraints.txt)
echo "setup took $(( $(date +%s) - start )) s"

set +e
timeout "$BENCH_TIMEOUT" "$WORK/venv/bin/python" -m tools.bench.batching \
  ${VARIANT:+--variant "$VARIANT"} --models "$MODEL" --weights "$WEIGHTS" --threads "$THREADS" \
  --concurrency "$CONCURRENCY" --window-ms 2000 --max-trials 4 --out "$OUT"
rc=$?
set -e
cp "$TRITON_WORK_DIR/tritonserver.log" "$OUT/" 2>/dev/null || true
[ $rc -eq 0 ] || { echo "bench exited $rc; Triton log tail:"; tail -40 "$TRITON_WORK_DIR/tritonserver.log" || true; }
echo "total $(( $(date +%s) - start )) s"
exit $rc
