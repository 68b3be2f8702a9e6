#!/usr/bin/env bash
# Results never merge two configurations: a sweep over two learning rates
# (two seeds each) gives two rows in `export --query arms`, each labelled with
# its learning rate and averaged over its own seeds only; the figure data and
# the figures keep them apart (a figure per learning rate, or with --by/BY a
# series per learning rate). layer_norms has median, p90, max, bound and
# fraction clipped for every private mode, per group as clipped; status warns
# about bounds that never bind.
# Usage: results_grouping.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cat > "$T/base.yaml" <<'YAML'
data: {size: [32, 32], count: 24}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 2, batch_size: 6, lr: 0.05, optimizer: sgd, momentum: 0.9}
dp: {clipping: flat, clip_bound: 1.0, noise_multiplier: 1.0, delta: 1.0e-5, accountants: [rdp]}
YAML
cat > "$T/lr.yaml" <<'YAML'
name: lr
base: base.yaml
grid:
  train.lr: [0.01, 0.5]
seeds: [1, 2]
YAML
cat > "$T/modes.yaml" <<'YAML'
name: modes
base: base.yaml
arms:
  flat: {dp.clipping: flat}
  tensor: {dp.clipping: per_layer}
  layer: {dp: {clipping: per_layer, per_layer: {group_by: layer}}}
  auto: {dp: {clipping: automatic, automatic: {scope: per_layer}}}
  rs: {dp: {clipping: random_sparsification, sparsification: {final_rate: 0.5}}}
  adaptive: {dp.clipping: adaptive}
YAML
"$CB" sweep "$T/lr.yaml" --db "$T/r.db" --jobs 2 --quiet > /dev/null
"$CB" sweep "$T/modes.yaml" --db "$T/m.db" --jobs 2 --quiet > /dev/null
X="$CB export --db $T/r.db --sweep lr"
q() { sqlite3 "$T/r.db" "$1"; }

# arms: one row per learning rate, labelled with it, n = 2, the mean of its
# own two seeds.
$X --query arms --format csv > "$T/arms.csv"
[[ $(($(wc -l < "$T/arms.csv") - 1)) -eq 2 ]] || { echo "arms: expected 2 rows"; cat "$T/arms.csv"; exit 1; }
for lr in 0.01 0.5; do
  row=$(grep "^unet/flat/sigma=1/C=1/train.lr=$lr," "$T/arms.csv") || { echo "arms: no row labelled train.lr=$lr"; cat "$T/arms.csv"; exit 1; }
  n=$(echo "$row" | cut -d, -f7)
  got=$(echo "$row" | cut -d, -f8)
  want=$(q "SELECT avg(e.val_dice) FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.lr = $lr AND e.epoch = 2")
  [[ $n == 2 ]] || { echo "arms lr=$lr: n=$n, expected 2 seeds"; exit 1; }
  awk -v a="$got" -v b="$want" 'BEGIN { exit !(a - b < 1e-12 && b - a < 1e-12) }' || { echo "arms lr=$lr: val_dice $got, database $want"; exit 1; }
done
# Labels name every varying key; the runs query too.
[[ $($X --query runs | awk -F'\t' 'NR > 1 {print $2}' | sort -u | wc -l) -eq 2 ]] || { echo "runs: labels do not tell the learning rates apart"; exit 1; }

# Figure data: a facet per learning rate; with --by model.arch the learning
# rate moves into the series names instead. Never one series over both.
[[ $($X --query curves | awk -F'\t' 'NR > 1 {print $NF}' | sort -u | tr '\n' ' ') == "unet_train.lr-0.01 unet_train.lr-0.5 " ]] || { echo "curves: facets"; $X --query curves | cut -f1,24,25; exit 1; }
[[ $($X --query curves | awk -F'\t' 'NR > 1 && $8 == 1 {print $9}' | sort -u) == 2 ]] || { echo "curves: a series must hold 2 seeds"; exit 1; }
[[ $($X --query frontier --by model.arch | awk -F'\t' 'NR > 1 {print $1}' | sort -u | wc -l) -eq 2 ]] || { echo "--by: the learning rate must split the series"; exit 1; }
$X --query frontier --by model.arch | grep -q 'flat C=1 train.lr=0.5' || { echo "--by: series name lacks the learning rate"; exit 1; }
if $X --query arms --by train.lrr 2> "$T/err"; then echo "--by with an unknown key accepted"; exit 1; fi
grep -q "no run in .* has a configuration key 'train.lrr'" "$T/err"

# The figures: one set per learning rate, each naming it in its data.
if command -v gnuplot > /dev/null; then
  make --no-print-directory -C "$SRC" -f Makefile.plots DB="$T/r.db" SWEEP=lr OUT="$T/out" CLIPBENCH="$CB" FORMATS=png > /dev/null
  for lr in 0.01 0.5; do
    for f in curves_val_dice frontier norms group_norms classes; do
      [[ -s "$T/out/${f}_unet_train.lr-$lr.png" ]] || { echo "no figure ${f}_unet_train.lr-$lr.png"; ls "$T/out"; exit 1; }
    done
    grep -q "unet train.lr=$lr" "$T/out/data/curves_unet_train.lr-$lr.tsv"
    if grep -q "unet train.lr=$([[ $lr == 0.5 ]] && echo 0.01 || echo 0.5)" "$T/out/data/curves_unet_train.lr-$lr.tsv"; then
      echo "curves data of lr=$lr holds the other learning rate"; exit 1; fi
  done
  # The per-group figure's data: every clipping group with its bound in force.
  awk -F'\t' 'NR > 1 && $1 != "" && $7 ~ /^[0-9]+$/ { n++; if ($15 == "NaN" || $15 == "") bad++ }
    END { exit !(n >= 20 && bad == 0) }' "$T/out/data/group_norms_unet_train.lr-0.01.tsv" ||
    { echo "group_norms data: groups without a bound"; head -3 "$T/out/data/group_norms_unet_train.lr-0.01.tsv"; exit 1; }
  make --no-print-directory -C "$SRC" -f Makefile.plots DB="$T/r.db" SWEEP=lr BY=model.arch OUT="$T/by" CLIPBENCH="$CB" FORMATS=png > /dev/null
  [[ -s "$T/by/curves_val_dice_unet.png" && ! -e "$T/by/curves_val_dice_unet_train.lr-0.5.png" ]] || { echo "BY=model.arch: expected one figure per architecture"; ls "$T/by"; exit 1; }
  [[ $(cut -f1 "$T/by/data/curves_unet.tsv" | sort -u | grep -c '^"flat σ=1 C=1 train.lr=') -eq 2 ]] || { echo "BY: two series expected"; exit 1; }
fi

# layer_norms: every statistic stored for every private mode, per group as
# clipped.
m() { sqlite3 "$T/m.db" "$1"; }
bad=$(m "SELECT count(*) FROM layer_norms WHERE median IS NULL OR p90 IS NULL OR max IS NULL OR clip_bound IS NULL OR frac_clipped IS NULL OR scope IS NULL")
[[ $bad -eq 0 ]] || { echo "layer_norms: $bad rows with NULL statistics"; exit 1; }
[[ $(m "SELECT count(DISTINCT r.clipping) FROM layer_norms l JOIN runs r ON r.id = l.run_id") -eq 5 ]] || { echo "layer_norms missing for a private mode"; exit 1; }
[[ $(m "SELECT count(*) FROM layer_norms l JOIN runs r ON r.id = l.run_id WHERE r.name = 'tensor' AND l.epoch = 1 AND l.scope = 'tensor'") -gt \
   $(m "SELECT count(*) FROM layer_norms l JOIN runs r ON r.id = l.run_id WHERE r.name = 'layer' AND l.epoch = 1 AND l.scope = 'layer'") ]] || { echo "layer_norms: tensor groups must outnumber layer groups"; exit 1; }
[[ $(m "SELECT count(*) FROM layer_norms WHERE max < p90 OR p90 < median OR frac_clipped < 0 OR frac_clipped > 1") -eq 0 ]]
[[ $("$CB" export --db "$T/m.db" --query layer_norms --json | head -1 | grep -c '"scope":"model"') -eq 1 ]]

# A bound far above every norm never binds: status says so.
"$CB" run "$T/base.yaml" --db "$T/m.db" --quiet --set dp.clipping=per_layer --set dp.clip_bound=1000 > /dev/null
"$CB" status --db "$T/m.db" > "$T/status.txt"
grep -q "warning: unet/per_layer/sigma=1/C=1000[^ ]* seed .*C_k never binds for \([0-9]*\) of \1 tensor groups" "$T/status.txt" || { echo "status: no never-binds warning"; cat "$T/status.txt"; exit 1; }
# Views another clipbench version wrote: readers (status, export) work without writing
# and leave them; the next command that writes the database brings them up to date.
sqlite3 "$T/m.db" "DROP VIEW q_bounds; CREATE VIEW q_bounds AS SELECT 1 AS other_version"
"$CB" status --db "$T/m.db" > /dev/null || { echo "status failed on views of another version"; exit 1; }
"$CB" export --db "$T/m.db" --query bounds > /dev/null || { echo "export failed on views of another version"; exit 1; }
[[ $(m "SELECT other_version FROM q_bounds") == 1 ]] || { echo "a reader rewrote the views"; exit 1; }
"$CB" run "$T/base.yaml" --db "$T/m.db" --quiet --set dp.clipping=per_layer --set dp.clip_bound=1000 > /dev/null
m "SELECT run_id FROM q_bounds LIMIT 0" > /dev/null || { echo "a writer left the views stale"; exit 1; }
# Automatic clipping rescales every gradient (no bound to bind): never warned about.
[[ $(grep -c "warning: [^ ]*automatic" "$T/status.txt") -eq 0 ]] || { echo "status: a bound warning for automatic clipping"; cat "$T/status.txt"; exit 1; }
# Choosing C: norms over several batches or a held-out split, a recommended
# C per clipping mode (flat: the median total norm), and the privacy caveat.
"$CB" grads "$T/base.yaml" --out "$T/g1" --json > "$T/g1.json"
"$CB" grads "$T/base.yaml" --out "$T/g4" --batches 4 --json > "$T/g4.json"
"$CB" grads "$T/base.yaml" --out "$T/gv" --split val --json > "$T/gv.json"
n1=$(sed 's/.*"batch":\([0-9]*\).*/\1/' "$T/g1.json"); n4=$(sed 's/.*"batch":\([0-9]*\).*/\1/' "$T/g4.json")
grep -q '"batches":4,' "$T/g4.json" && (( n4 > n1 )) || { echo "grads --batches 4: $n4 images, first batch $n1"; exit 1; }
p50=$(sed 's/.*"p50":\([^,]*\),.*/\1/' "$T/g4.json")
grep -q "\"recommended_clip_bound\":{\"flat\":$p50," "$T/g4.json" || { echo "grads: flat recommendation is not the median"; cat "$T/g4.json"; exit 1; }
grep -q '"privacy_caveat":"these norms are of the private training images' "$T/g4.json"
grep -q '"split":"val"' "$T/gv.json" && grep -q '"privacy_caveat":"these norms are of validation images' "$T/gv.json"
[[ -s "$T/g4/norms.safetensors" && ! -e "$T/g4/clipped_sum.safetensors" && -s "$T/g1/clipped_sum.safetensors" ]]
"$CB" grads "$T/base.yaml" --out "$T/g4" --batches 4 | grep -c "^privacy: these norms are of the private training images" > /dev/null

# What a number stands on, where stored (engineer-written rows stand in for
# the trainer's): the DP setting, "not a DP guarantee" and test scores reach
# arms, LaTeX and the report; the test mean and CI are over seeds.
q "UPDATE runs SET dp_guarantee = 0, dp_caveat = 'shuffled fixed-size batches', sampling = 'shuffle',
     sample_rate = 0.4, dataset_size = 15 WHERE lr = 0.5;
   UPDATE runs SET dp_guarantee = 1, sampling = 'poisson', sample_rate = 0.4, dataset_size = 15 WHERE lr = 0.01;
   INSERT OR REPLACE INTO test_metrics SELECT id, 'final', 2, 1.0, 0.5, iif(seed = 1, 0.3, 0.5), 0.2, 0.1, 0.1, 0 FROM runs WHERE lr = 0.01;
   INSERT OR REPLACE INTO test_classes SELECT id, 'final', 8, iif(seed = 1, 0.1, 0.2), 0.1 FROM runs WHERE lr = 0.01;"
$X --query arms --json > "$T/arms.json"
grep '"label":"unet/flat/sigma=1/C=1/train.lr=0.01"' "$T/arms.json" | grep -q '"test_dice":0.4,' || { echo "arms: test Dice mean"; exit 1; }
grep '"label":"unet/flat/sigma=1/C=1/train.lr=0.01"' "$T/arms.json" | grep -qE '"test_dice_ci95":1\.270(6|59)' || { echo "arms: test Dice 95% CI (t=12.706, sd=0.1414, n=2)"; exit 1; }
grep '"label":"unet/flat/sigma=1/C=1/train.lr=0.5"' "$T/arms.json" | grep -q '"guarantee":"not a DP guarantee: shuffled fixed-size batches"' || { echo "arms: not labelled as not a DP guarantee"; exit 1; }
grep -q '"delta":1e-05,"accountant":"rdp","sampling":"shuffle","sample_rate":0.4,"dataset_size":15,"steps":' "$T/arms.json" || { echo "arms: DP setting columns"; exit 1; }

# LaTeX: a booktabs tabular, every row as wide as the header, text escaped;
# compiled when pdflatex is here.
$X --query arms --format latex > "$T/arms.tex"
[[ $(sed -n 2p "$T/arms.tex") == '\begin{tabular}{'* ]] && grep -qx '\\toprule' "$T/arms.tex" && grep -qx '\\midrule' "$T/arms.tex" && grep -qx '\\bottomrule' "$T/arms.tex" && [[ $(tail -1 "$T/arms.tex") == '\end{tabular}' ]] || { echo "latex: not a booktabs tabular"; cat "$T/arms.tex"; exit 1; }
ncol=$(sed -n 2p "$T/arms.tex" | sed 's/.*{\([lr]*\)}/\1/' | tr -d '\n' | wc -c)
awk -v n="$ncol" '/\\\\$/ { c = gsub(/ & /, "&"); if (c != n - 1) { print "row with " c + 1 " cells, header has " n; bad = 1 } } END { exit bad }' "$T/arms.tex"
if grep -v '^%' "$T/arms.tex" | sed 's/\\_//g' | grep -q '_'; then echo "latex: unescaped _"; exit 1; fi
if command -v pdflatex > /dev/null; then
  printf '\\documentclass{article}\\usepackage{booktabs}\\usepackage[landscape]{geometry}\\begin{document}\\tiny\n\\input{arms.tex}\n\\end{document}\n' > "$T/doc.tex"
  (cd "$T" && pdflatex -interaction=nonstopmode -halt-on-error doc.tex > latex.log) || { echo "latex: pdflatex failed"; tail -20 "$T/latex.log"; exit 1; }
fi

if command -v gnuplot > /dev/null; then
  "$CB" report --db "$T/r.db" --sweep lr --out "$T/rep" --quiet > /dev/null
  md=$T/rep/report.md
  for want in '## Experimental setup' '| trainable parameters | unet: ' '| δ | 1.0e-05 |' '| sampling rate q | 0.4 |' \
      '| DP guarantee | not a DP guarantee: shuffled fixed-size batches, yes |' \
      '| unet/flat/sigma=1/C=1/train.lr=0.01 | 2 | ' '| 0.4000 ± 1.2706 |' \
      '| not a DP guarantee: shuffled fixed-size batches |' '| method | σ = 1 |' '| unet flat C=1 train.lr=0.5 | ' \
      '## Per-class Dice, test split (final weights)' ' | fluid |' \
      '### unet/flat/sigma=1/C=1/train.lr=0.5 seed 2: finished (run ' '```json' \
      ; do
    grep -qF -- "$want" "$md" || { echo "report.md lacks: $want"; exit 1; }
  done
  # Facet names in the figure captions: every figure names its learning rate.
  [[ $(grep -c '^unet train.lr=0.0*1\?: \|^unet train.lr=0.5: ' "$md") -ge 10 ]] || { echo "report: figure captions do not name the facet"; exit 1; }
fi
echo "results grouping: ok"
