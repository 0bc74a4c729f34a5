#!/usr/bin/env bash
# Prepare build/gpu-bundle/ on this machine for scripts/gpu-bench.sh on a GPU machine
# that has no network: wheels for the GPU machine's Python (numpy < 2 for Triton's
# Python backend stub, the client libraries, perf_analyzer inside tritonclient's
# wheel) and the bundled Triton 2.51 server, Python backend and libraries (without
# pytriton's own libpython 3.13) packed with xz. It fits the device tool's 64 MiB
# carry; the real MiniLM weights (90 MB) do not, so the GPU run uses stand-in
# weights of the same shapes unless WEIGHTS names a folder on that machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-bundle}
PY=${PY:-.venv/bin/python}
GPU_PYTHON=${GPU_PYTHON:-3.12}
rm -rf "$OUT"
mkdir -p "$OUT/wheels"
# The same pins as constraints.txt, for the GPU machine's interpreter.
"$PY" -m pip download --quiet --only-binary=:all: --no-deps \
  --python-version "$GPU_PYTHON" --implementation cp --abi "cp${GPU_PYTHON/./}" \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 --platform any -d "$OUT/wheels" \
  $(grep -E '^(numpy|requests|urllib3|idna|certifi|charset-normalizer|PyYAML|protobuf|grpcio|typing[-_]extensions|python-rapidjson|packaging)==' constraints.txt)
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# tritonclient's wheel carries perf_analyzer twice (as perf_client too): ship its
# pure-Python package and one perf_analyzer instead, inside the xz tarball.
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin"
cp "$(dirname "$PY")/perf_analyzer" "$STAGE/bin/"
cp -r "$SP/tritonclient" "$STAGE/"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
tar -cJf "$OUT/triton.tar.xz" \
  --exclude='libpython3*' --exclude=__pycache__ \
  -C "$SP" pytriton/tritonserver/bin pytriton/tritonserver/backends/python \
  "pytriton/tritonserver/python_backend_stubs/$GPU_PYTHON" nvidia_pytriton.libs \
  -C "$STAGE" bin tritonclient
du -sh "$OUT" "$OUT"/* | sed 's/^/  /'
echo "bundle ready: run the device tool with carry [\"$OUT\"] and command 'bash scripts/gpu-bench.sh'"
