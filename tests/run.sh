#!/usr/bin/env bash
# Builds clipbench (Release) and an ASan+UBSan Debug configuration, then runs
# every test through CTest: all tests in Release, the unit and end-to-end
# tests under the sanitizers. Usage: bash tests/run.sh   (checks the
# packages the tests need first: root installs what is missing, including
# gnuplot and SLURM; an ordinary user is told in one line what is missing,
# and tests whose optional tools are absent report SKIPPED)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash .ci/install-deps test
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCB_SANITIZE=ON -DCB_WITH_CUDA=OFF >/dev/null
cmake --build build-asan -j "$JOBS"
status=0
(cd build && ctest --output-on-failure -j "$JOBS" --timeout 900) || status=1
# Sanitizer reports go to files: an end-to-end script that expects a command
# to fail would otherwise take a sanitizer's exit for the expected error.
SAN_LOGS=$(mktemp -d)
trap 'rm -rf "$SAN_LOGS"' EXIT
(cd build-asan &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$SAN_LOGS/asan \
  UBSAN_OPTIONS=print_stacktrace=1:log_path=$SAN_LOGS/ubsan \
  LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0 \
  ctest --output-on-failure -j "$JOBS" -L 'unit|e2e' --timeout 1800) || status=1
if compgen -G "$SAN_LOGS/*" > /dev/null && grep -lqE "ERROR|runtime error" "$SAN_LOGS"/*; then
  echo "sanitizer reports (tests/run.sh, ASan+UBSan pass):"
  cat "$SAN_LOGS"/*
  status=1
fi
exit $status
