#!/usr/bin/env bash
# The GPU suite, for a machine with an NVIDIA GPU (CI has none): builds
# clipbench with the CUDA backend, runs the cuda-labelled parity tests (they
# must pass, not skip), runs each under compute-sanitizer (memcheck,
# racecheck, initcheck), and runs `clipbench bench --backend cuda`.
#
# Usage: bash tests/cuda/run_gpu_suite.sh [BUILD_DIR]   (default build-gpu)
# Environment: CB_CUDA_ARCHS (default: the GPU's own, from nvidia-smi, else
# "80;90"), JOBS (default nproc), SANITIZE=0 to skip compute-sanitizer.
# Exit status: 0 when everything passed; the log of each step is in BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-gpu}
JOBS=${JOBS:-$(nproc)}
say() { printf '\n== %s\n' "$*"; }

command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "nvidia-smi not found (continuing)"
if [[ -z "${CB_CUDA_ARCHS:-}" ]]; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
  CB_CUDA_ARCHS=${cc:-80;90}
fi

say "configure and build ($BUILD, CB_CUDA_ARCHS=$CB_CUDA_ARCHS)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCB_WITH_CUDA=ON \
  "-DCB_CUDA_ARCHS=$CB_CUDA_ARCHS" >"$BUILD.configure.log"
grep -q "clipbench: CUDA backend ON" "$BUILD.configure.log" || {
  echo "the CUDA backend was not configured (nvcc not found?); see $BUILD.configure.log" >&2
  exit 1
}
cmake --build "$BUILD" -j "$JOBS"

say "parity tests (ctest -L ^cuda\$; a skip here is a failure)"
(cd "$BUILD" && ctest -L '^cuda$' --output-on-failure --timeout 1800 | tee ctest-cuda.log)
if grep -q "Skipped" "$BUILD/ctest-cuda.log"; then
  echo "some cuda tests were skipped: no usable device? (see the SKIPPED lines above)" >&2
  exit 1
fi

status=0
if [[ "${SANITIZE:-1}" != 0 ]]; then
  CS=$(command -v compute-sanitizer || true)
  for d in "${CUDA_HOME:-/usr/local/cuda}/bin" /usr/local/cuda/compute-sanitizer; do
    [[ -z "$CS" && -x "$d/compute-sanitizer" ]] && CS="$d/compute-sanitizer"
  done
  if [[ -z "$CS" ]]; then
    echo "compute-sanitizer not found (install the CUDA toolkit's sanitizer)" >&2
    exit 1
  fi
  # test_errors provokes CUDA API errors on purpose (out of memory, a bad
  # cuBLAS call), which the sanitizer would report; the others must be clean.
  for t in "$BUILD"/tests/cuda_test_*; do
    [[ "$(basename "$t")" == cuda_test_errors ]] && continue
    for tool in memcheck racecheck initcheck; do
      say "compute-sanitizer --tool $tool $(basename "$t")"
      extra=()
      [[ $tool == memcheck ]] && extra=(--leak-check full)
      if ! "$CS" --tool "$tool" "${extra[@]}" --error-exitcode 99 "$t" \
        >"$BUILD/sanitizer-$tool-$(basename "$t").log" 2>&1; then
        echo "FAILED: see $BUILD/sanitizer-$tool-$(basename "$t").log" >&2
        tail -20 "$BUILD/sanitizer-$tool-$(basename "$t").log" >&2
        status=1
      else
        tail -1 "$BUILD/sanitizer-$tool-$(basename "$t").log"
      fi
    done
  done
fi

say "clipbench bench --backend cuda (default model and size)"
"$BUILD/clipbench" bench --backend cuda | tee "$BUILD/bench-cuda.txt"
say "the same step on the CPU, for comparison (fewer steps)"
"$BUILD/clipbench" bench --backend cpu --steps 1 --mode none --mode flat | tee "$BUILD/bench-cpu.txt"

say "done: $([[ $status == 0 ]] && echo "all passed" || echo "sanitizer failures above")"
exit $status
