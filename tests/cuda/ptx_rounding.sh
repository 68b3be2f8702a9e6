#!/usr/bin/env bash
# Proves from the PTX of core/cuda/backend_cuda.cu, compiled with the shipped
# options, that the CUDA kernels round as the CPU does (no GPU needed):
#   - there is one kernel per entry of CB_KERNEL_LIST;
#   - no kernel contains a fused multiply-add, an approximate instruction or
#     flush-to-zero, and every division and square root rounds to nearest
#     (.rn), except softmax_nll, batch_loss_fwd, batch_loss_bwd and noise,
#     whose bodies call exp/log/cos (the CUDA math library uses FMA inside
#     them; their parity tests allow 2 ulps).
# Without --fmad=false every kernel would contain FMAs and this fails.
# Usage: ptx_rounding.sh BACKEND.ptx core/kernels/kernels.h
set -euo pipefail
PTX=$1
LIST=$2
MATH_KERNELS="softmax_nll batch_loss_fwd batch_loss_bwd noise"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -s "$PTX" ]] || fail "no PTX at $PTX"
mapfile -t kernels < <(sed -n 's/^ *X(\([a-z0-9_]*\)) *\\\?$/\1/p' "$LIST")
((${#kernels[@]} > 20)) || fail "could not read CB_KERNEL_LIST from $LIST"
# Per kernel: the instructions that would break bit-identity.
report=$(awk '
  /^\.(visible )?\.?entry/ { split($0, a, "cb_cuda_"); split(a[2], b, "E"); name = b[1]; n[name] = 0; next }
  name != "" && (/\tfma\./ || /approx/ || /\.ftz/ || /\t(div|sqrt)\.(full|approx)/) { n[name]++ }
  END { for (k in n) print k, n[k] }' "$PTX")
missing=0
for k in "${kernels[@]}"; do
  line=$(grep -E "^${k} [0-9]+$" <<<"$report" || true)
  [[ -n "$line" ]] || {
    echo "kernel $k: not found in the PTX"
    missing=1
    continue
  }
  count=${line##* }
  if [[ " $MATH_KERNELS " == *" $k "* ]]; then
    echo "kernel $k: $count FMA/approximate instructions (math library; 2-ulp bound)"
  elif ((count > 0)); then
    echo "kernel $k: $count FMA/approximate/flush-to-zero instructions"
    missing=1
  else
    echo "kernel $k: exact IEEE rounding"
  fi
done
((missing == 0)) || fail "some kernels would not round as on the CPU (see above)"
echo "ptx_rounding: ${#kernels[@]} kernels checked"
