#!/usr/bin/env bash
# Builds clipbench (Release) and an ASan+UBSan Debug configuration, then runs
# every test through CTest: all tests in Release, the unit tests under the
# sanitizers. Usage: bash tests/run.sh   (root installs missing packages)
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCB_SANITIZE=ON -DCB_WITH_CUDA=OFF >/dev/null
cmake --build build-asan -j "$JOBS"
status=0
(cd build && ctest --output-on-failure -j "$JOBS" --timeout 900) || status=1
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$JOBS" -L unit --timeout 900) || status=1
exit $status
