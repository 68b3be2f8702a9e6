#!/usr/bin/env bash
# Figures and report from a small real sweep: every figure renders as a valid,
# non-trivial PNG/PDF/SVG, the data behind a figure matches the database,
# nothing is rebuilt when nothing changed, and missing gnuplot, a database
# without finished runs and an unknown sweep fail with one clear line.
# Usage: plots_report.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
SRC=$2
command -v gnuplot >/dev/null || { echo "SKIPPED: gnuplot is not installed"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cat > "$T/base.yaml" <<'YAML'
data: {size: [32, 32], count: 24}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 3, batch_size: 6, lr: 0.05, optimizer: sgd, momentum: 0.9}
dp: {clipping: none}
YAML
cat > "$T/tiny.yaml" <<'YAML'
name: tiny
base: base.yaml
set:
  dp: {clip_bound: 1.0, delta: 1.0e-5, accountants: [rdp]}
arms:
  nonprivate: {dp.clipping: none}
  flat: {dp.clipping: flat}
  random_sparsification: {dp: {clipping: random_sparsification, sparsification: {final_rate: 0.5}}}
grid:
  model.arch: [unet, nested_unet]
  dp.noise_multiplier: [0.5, 1.0]
include:
  - {arm: flat, model.arch: unet, dp.clip_bound: 0.1, dp.noise_multiplier: 0.5}
  - {arm: flat, model.arch: unet, dp.clip_bound: 0.1, dp.noise_multiplier: 1.0}
seeds: [1, 2]
YAML
"$CB" sweep "$T/tiny.yaml" --db "$T/r.db" --jobs 2 --quiet > /dev/null
OUT=$T/out
make --no-print-directory -C "$SRC" -f Makefile.plots DB="$T/r.db" OUT="$OUT" CLIPBENCH="$CB" > "$T/make1.log"

# Every figure, every format: right magic, non-trivial size, sane PNG size.
n=0
for f in "$OUT"/*.png; do
  [[ $(head -c 8 "$f" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || { echo "not a PNG: $f"; exit 1; }
  w=$((16#$(od -An -tx1 -j16 -N4 "$f" | tr -d ' \n'))); h=$((16#$(od -An -tx1 -j20 -N4 "$f" | tr -d ' \n')))
  (( w >= 600 && h >= 400 )) || { echo "$f is only ${w}x${h}"; exit 1; }
  (( $(stat -c %s "$f") > 20000 )) || { echo "$f is nearly empty"; exit 1; }
  b=${f%.png}
  [[ $(head -c 5 "$b.pdf") == "%PDF-" ]] && (( $(stat -c %s "$b.pdf") > 5000 )) || { echo "bad PDF $b.pdf"; exit 1; }
  grep -q "<svg" "$b.svg" || { echo "bad SVG $b.svg"; exit 1; }
  n=$((n + 1))
done
# 2 architectures x (4 curves + norms + group norms + classes + frontier) + epsilon + time + heatmap
[[ $n -eq 19 ]] || { echo "expected 19 figures, found $n"; ls "$OUT"; exit 1; }

# The data behind a figure is the database's: the seed mean of val_dice.
want=$(sqlite3 "$T/r.db" "SELECT printf('%.6f', avg(e.val_dice)) FROM epochs e JOIN runs r ON r.id = e.run_id
  WHERE r.arch = 'unet' AND r.clipping = 'flat' AND r.noise_multiplier = 0.5 AND r.clip_bound = 1 AND e.epoch = 2")
got=$(awk -F'\t' '$1 == "\"flat σ=0.5 C=1\"" || $1 == "flat σ=0.5 C=1" { if ($8 == 2) printf "%.6f", $19 }' "$OUT/data/curves_unet.tsv")
[[ -n $got && $got == "$want" ]] || { echo "curves_unet.tsv val_dice $got, database $want"; exit 1; }
seeds=$(awk -F'\t' '$8 == 2 && $3 == "flat" { print $9; exit }' "$OUT/data/curves_unet.tsv")
[[ $seeds == 2 ]] || { echo "expected 2 seeds per series, got $seeds"; exit 1; }

# Nothing changed: nothing is rendered again.
make --no-print-directory -C "$SRC" -f Makefile.plots DB="$T/r.db" OUT="$OUT" CLIPBENCH="$CB" > "$T/make2.log"
if grep -q "plot " "$T/make2.log"; then echo "figures rebuilt without a change"; exit 1; fi

# The report: one page with the figures embedded and the tables.
"$CB" report --db "$T/r.db" --sweep tiny --out "$T/rep" --quiet > /dev/null
[[ $(grep -c "<figure>" "$T/rep/index.html") -eq 19 ]] || { echo "report figures missing"; exit 1; }
grep -q "unet/flat/sigma=0.5/C=1" "$T/rep/index.html" || { echo "report table lacks a configuration"; exit 1; }
grep -q "data:image/png;base64," "$T/rep/index.html"
grep -q "](figures/epsilon.png)" "$T/rep/report.md"

# Clear one-line errors.
if make -s -C "$SRC" -f Makefile.plots DB="$T/r.db" OUT="$T/x" CLIPBENCH="$CB" GNUPLOT=/nonexistent/gnuplot 2> "$T/err"; then
  echo "missing gnuplot accepted"; exit 1; fi
grep -q "gnuplot not found" "$T/err"
if "$CB" report --db "$T/r.db" --sweep nope --out "$T/y" 2> "$T/err"; then echo "unknown sweep accepted"; exit 1; fi
grep -q "no sweep called 'nope'" "$T/err"
"$CB" run "$T/base.yaml" --db "$T/failed.db" --quiet --set train.lr=1e12 > /dev/null 2>&1 || true
if "$CB" report --db "$T/failed.db" --out "$T/z" 2> "$T/err"; then echo "empty report accepted"; exit 1; fi
grep -q "no finished runs" "$T/err"
if make -s -C "$SRC" -f Makefile.plots DB="$T/failed.db" OUT="$T/z2" CLIPBENCH="$CB" 2> "$T/err"; then
  echo "plots without finished runs accepted"; exit 1; fi
grep -q "no finished runs" "$T/err"
[[ ! -e "$T/z2" || -z $(ls "$T/z2"/*.png 2>/dev/null) ]]
echo "figures and report: ok ($n figures)"
