#!/usr/bin/env bash
# clipbench bench --backend: cuda either works like the CPU (a device is
# present: the same table, backend cuda, device memory) or stops with one
# clear line (no device, or built without CUDA); auto falls back to the CPU
# where there is no device; a wrong name is refused.
# Usage: bench_backend.sh PATH-TO-CLIPBENCH SOURCE-DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
TINY=(--size 16 --batch-size 2 --steps 1 --warmup 0 --width 4 --depth 1 --mode flat)

if "$CB" bench --backend cuda "${TINY[@]}" >"$T/out" 2>"$T/err"; then
  grep -q "backend cuda" "$T/out" || fail "cuda bench does not say backend cuda"
  grep -q "^none " "$T/out" && grep -q "^flat " "$T/out" || fail "cuda bench rows missing"
  grep -q "cuBLAS sgemm" "$T/out" || fail "cuda bench does not compare with cuBLAS"
  "$CB" bench --backend cuda --json "${TINY[@]}" | grep -c '"backend":"cuda"' > /dev/null ||
    fail "cuda bench --json"
  echo "cuda bench ran on the device"
else
  [[ $(wc -l <"$T/err") -eq 1 ]] || fail "expected one error line, got: $(cat "$T/err")"
  grep -Eq "^clipbench bench: error: (no CUDA device|this clipbench was built without the CUDA backend)" \
    "$T/err" || fail "unclear error: $(cat "$T/err")"
  [[ ! -s "$T/out" ]] || fail "output on failure: $(cat "$T/out")"
  # auto: the CPU, the same table.
  "$CB" bench --backend auto "${TINY[@]}" >"$T/auto"
  grep -q "backend cpu" "$T/auto" || fail "auto did not fall back to the CPU"
  grep -q "^flat " "$T/auto" || fail "auto bench rows missing"
  echo "no device: $(cat "$T/err")"
fi
if "$CB" bench --backend gpu "${TINY[@]}" 2>"$T/err"; then fail "--backend gpu accepted"; fi
grep -q "backend must be cpu, cuda or auto" "$T/err" || fail "bad backend message: $(cat "$T/err")"
echo "bench_backend: ok"
