#!/usr/bin/env bash
# cmake --install into a temporary prefix: the binary in P/bin, Makefile.plots,
# the gnuplot scripts and the shipped sweeps/experiments under
# P/share/clipbench (sweep files still find their experiment files), the
# licence and citation under P/share/doc/clipbench; then the installed
# binary, run from an unrelated folder with the source tree out of reach
# (CLIPBENCH_DATA_DIR pointing nowhere useful is refused, a moved prefix
# still works), writes a report with figures.
# Usage: install_prefix.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
BUILD=$(cd "$(dirname "$CB")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

cmake --install "$BUILD" --prefix "$T/p" > "$T/install.log" || fail "cmake --install: $(tail -3 "$T/install.log")"
P=$T/p
[[ -x $P/bin/clipbench ]] || fail "no $P/bin/clipbench"
for f in share/clipbench/Makefile.plots share/clipbench/plots/style.gp share/clipbench/plots/curves.gp \
  share/clipbench/sweeps/smoke.yaml share/clipbench/experiments/synthetic/unet_nonprivate.yaml \
  share/clipbench/experiments/study/unet_per_layer.yaml share/doc/clipbench/LICENSE \
  share/doc/clipbench/CITATION.cff; do
  [[ -f $P/$f ]] || fail "not installed: $f"
done
[[ -z $(find "$P/share/clipbench" -name '*.c' -o -name '*.db') ]] || fail "sources or databases installed"

# Move the prefix: nothing may point back into the build or source tree.
mv "$P" "$T/moved"
P=$T/moved
mkdir "$T/elsewhere"
cd "$T/elsewhere"
# A shipped sweep file resolves its base experiment relative to itself.
"$P/bin/clipbench" --help | grep -qxF "  $P/share/clipbench" || fail "installed binary does not use its own share folder: $("$P/bin/clipbench" --help | tail -1)"
"$P/bin/clipbench" sweep "$P/share/clipbench/sweeps/smoke.yaml" --dry-run > dry.txt || fail "dry run of the installed smoke sweep"
grep -q "22 runs" dry.txt || fail "installed smoke sweep: $(tail -1 dry.txt)"

cat > tiny.yaml <<'YAML'
data: {size: [32, 32], count: 12}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 2, batch_size: 6, lr: 0.05}
dp: {clipping: flat, noise_multiplier: 1.0, accountants: [rdp]}
YAML
"$P/bin/clipbench" run tiny.yaml --db r.db --quiet > /dev/null 2>&1 || "$P/bin/clipbench" run tiny.yaml --db r.db > /dev/null

if command -v gnuplot > /dev/null; then
  # The source tree must not be what makes it work.
  if CLIPBENCH_DATA_DIR=$T/elsewhere "$P/bin/clipbench" report --db r.db --out rep 2> err.txt; then
    fail "a CLIPBENCH_DATA_DIR without Makefile.plots was accepted"
  fi
  grep -q "CLIPBENCH_DATA_DIR=$T/elsewhere holds no Makefile.plots" err.txt || fail "env error: $(cat err.txt)"
  "$P/bin/clipbench" report --db r.db --out rep --formats png > rep.log 2>&1 || fail "installed report: $(tail -5 rep.log)"
  [[ -s rep/index.html ]] || fail "no rep/index.html"
  ls rep/figures/*.png > /dev/null 2>&1 || fail "no figures rendered"
  # The override wins over the installed folder.
  CLIPBENCH_DATA_DIR=$P/share/clipbench "$P/bin/clipbench" report --db r.db --out rep2 --formats png > /dev/null 2>&1 ||
    fail "report with CLIPBENCH_DATA_DIR"
  echo "ok: installed, moved, report from $T/elsewhere"
else
  echo "ok: installed and moved (gnuplot not installed: report not rendered)"
fi
