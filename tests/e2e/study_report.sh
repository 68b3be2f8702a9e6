#!/usr/bin/env bash
# clipbench report --study on a database of runs inserted directly (the study's
# arms, three seeds each, as published and corrected): the published numbers
# it prints are the TSV's (and the TSV holds the study's CSV values), every
# verdict is the one its rule gives, and flipping the data flips the verdict
# (AC below non-private, too few seeds, no lr axis, an epsilon that differs).
# Usage: study_report.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
SRC=$2
command -v sqlite3 >/dev/null || { echo "SKIPPED: sqlite3 is not installed"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
PUB=$SRC/docs/reproduction/published.tsv

# The facts file carries the study's CSV values (results/opacus-ac/NestedUNet_Duke.csv,
# sigma 0.3: last Dice tensor(0.5636), last epsilon 542.7445116...; Non-DP U-Net 0.1615).
awk -F'\t' '$1=="automatic" && $2=="nested_unet" && $3=="0.3" {print $11, $13}' "$PUB" |
  grep -qx '0.5636 542.7445116' || fail "published.tsv: nested AC 0.3 is not the study's"
awk -F'\t' '$1=="nonprivate" && $2=="unet" {print $11, $10}' "$PUB" |
  grep -qx '0.1615 2.932585434' || fail "published.tsv: U-Net non-private is not the study's"
[[ $(grep -vc '^#' "$PUB") -eq 15 ]] || fail "published.tsv: expected 14 arms and a header"

# A database with the schema: one tiny real run, then removed.
cat > "$T/tiny.yaml" <<'YAML'
data: {size: [16, 16], count: 12}
model: {arch: unet, width: 4, depth: 1}
train: {epochs: 1, batch_size: 6, lr: 0.05}
dp: {clipping: none}
YAML
"$CB" run "$T/tiny.yaml" --db "$T/r.db" --quiet >/dev/null 2>&1 || "$CB" run "$T/tiny.yaml" --db "$T/r.db" >/dev/null
sqlite3 "$T/r.db" "DELETE FROM epoch_classes; DELETE FROM layer_norms; DELETE FROM epochs;
  DELETE FROM sweep_runs; DELETE FROM runs;"

ASPUB='"data":{"mask_resize":"bilinear_round","normalise":"fixed"},"loss":{"reduction":"batch"},"metrics":{"dice":"per_image"},"train":{"sampling":"shuffle"}'
N=0
# add PROC ARCH CLIPPING SIGMA LR DICE ACC TRAIN_LOSS EPS: three seeds, Dice +-0.002
add() {
  local proc=$1 arch=$2 clip=$3 sigma=$4 lr=$5 dice=$6 acc=$7 tl=$8 eps=$9 cfg
  if [[ $proc == pub ]]; then
    local dp='"dp":{"sample_rate":"opacus"}'
    [[ $clip == random_sparsification ]] && dp='"dp":{"sample_rate":"opacus","sparsification":{"as_published":true}}'
    [[ $clip == none ]] && dp='"dp":{}'
    cfg="{$ASPUB,$dp}"
  elif [[ $proc == mixed ]]; then
    cfg='{"train":{"sampling":"shuffle"}}'
  else
    cfg='{}'
  fi
  for seed in 1 2 3; do
    N=$((N + 1))
    local id d
    id=$(printf '%016x' "$N")
    d=$(awk -v a="$dice" -v s="$seed" 'BEGIN{printf "%.6f", a + (s - 2) * 0.002}')
    echo "INSERT INTO runs (id, name, config, arch, clipping, noise_multiplier, lr,
      seed, status, created_at) VALUES ('$id', 'x', '$cfg', '$arch', '$clip',
      NULLIF('$sigma', '-'), $lr, $seed, 'finished', 0);
      INSERT INTO epochs (run_id, epoch, train_loss, val_loss, val_dice, val_pixel_acc, epsilon,
      eps_prv, written_at) VALUES ('$id', 2, $tl, 1.0, $d, $acc, 0.9 * NULLIF('$eps', '-'),
      NULLIF('$eps', '-'), 0);
      INSERT INTO epoch_classes VALUES ('$id', 2, 0, 0.9, 0.8), ('$id', 2, 8, $d, 0.1);" >>"$T/rows.sql"
  done
}
for arch in unet nested_unet; do
  bump=0; [[ $arch == nested_unet ]] && bump=0.2
  b() { awk -v x="$1" -v y="$bump" 'BEGIN{print x + y}'; }
  add pub $arch none - 5e-4 "$(b 0.16)" "$(b 0.69)" 0.135 -
  add pub $arch automatic 0.5 5e-4 "$(b 0.21)" "$(b 0.74)" 0.131 145.9993822
  add pub $arch automatic 1.0 5e-4 "$(b 0.15)" "$(b 0.66)" 0.1354 31.27040068
  add pub $arch random_sparsification 0.5 5e-4 "$(b 0.145)" "$(b 0.65)" 0.1361 90.50429546
  add pub $arch random_sparsification 1.0 5e-4 "$(b 0.14)" "$(b 0.652)" 0.1362 20.37121246
  # corrected: at the study's lr AC beats non-private, at lr 5e-2 non-private wins
  add cor $arch none - 5e-4 "$(b 0.16)" "$(b 0.69)" 0.135 -
  add cor $arch none - 5e-2 "$(b 0.70)" "$(b 0.95)" 0.05 -
  add cor $arch automatic 0.5 5e-4 "$(b 0.21)" "$(b 0.74)" 0.131 3.1
  add cor $arch automatic 0.5 5e-2 "$(b 0.55)" "$(b 0.90)" 0.08 3.1
  add cor $arch automatic 1.0 5e-4 "$(b 0.15)" "$(b 0.66)" 0.1354 1.2
done
add mixed unet automatic 0.5 5e-4 0.9 0.99 0.01 146
sqlite3 "$T/r.db" "BEGIN; $(cat "$T/rows.sql") COMMIT;"

report() { # report OUT [extra args]: the JSON summary
  local out=$1; shift
  "$CB" report --study --db "$T/r.db" --out "$out" --published "$PUB" --plots "$SRC" "$@" --json
}
verdict() { # verdict JSON ID SOURCE
  grep -o "\"$2\":{[^}]*}" <<<"$1" | grep -o "\"$3\":\"[^\"]*\"" | cut -d'"' -f4
}
expect() { # expect JSON ID SOURCE VERDICT
  local got
  got=$(verdict "$1" "$2" "$3")
  [[ $got == "$4" ]] || fail "$2 on $3: '$got', expected '$4'"
}

figs=()
command -v gnuplot >/dev/null || figs=(--no-figures)
J=$(report "$T/out" "${figs[@]}")
MD=$T/out/README.md
[[ -s $MD ]] || fail "no README.md"
grep -q '"runs_as_published":30,"runs_corrected":30,"runs_mixed":3' <<<"$J" || fail "classification: $J"
if command -v gnuplot >/dev/null; then
  for a in unet nested_unet; do
    [[ $(head -c 4 "$T/out/figures/study_dice_sigma_$a.png" | tail -c 3) == PNG ]] || fail "$a png"
    [[ -s $T/out/figures/study_dice_sigma_$a.pdf ]] || fail "$a pdf"
  done
fi

# Learning curves: ours as published (mean, min, max over seeds) and the study's
# curve of each arm we ran, read from published_curves.tsv; no curve of an arm we did not run.
C=$T/out/figures/study_curves_unet.tsv
grep -A1 -x $'epoch\tours as published: automatic sigma 0.5\tlo\thi\trank' "$C" |
  grep -qx $'2\t0.21\t0.208\t0.212\t3' || fail "our curve of unet AC 0.5"
grep -A96 -x $'epoch\tstudy: automatic sigma 0.5\tlo\thi\trank' "$C" |
  grep -qx $'96\t0.2137\t0.2137\t0.2137\t3' || fail "the study's curve of unet AC 0.5"
grep -q 'study: automatic sigma 0.7' "$C" && fail "a study curve of an arm not run"
[[ $(grep -c '^epoch' "$C") -eq 10 ]] || fail "curve blocks: $(grep '^epoch' "$C")"

# Epoch by epoch: ours at our last epoch (2) against the study's curve at epoch 2
# (Dice 0.1418, loss 2.998, PRV epsilon 16.99 < our 145.99 after 100 epochs' worth: differs).
grep -qF '| unet | automatic | 0.5 | 2 | 3 | 0.2100 [0.2080, 0.2120] | 0.1418 (outside our range) | 1.0000 [1.0000, 1.0000] | 2.9982 (outside our range) | 146 | 16.99 (**differs**, relative difference 7.6e+00) |' "$MD" ||
  fail "epoch-matched row: $(grep -F '| unet | automatic | 0.5 | 2 |' "$MD")"
grep -qF '| unet | nonprivate | - | 2 | 3 |' "$MD" || fail "epoch-matched non-private row"
# Provenance: the runs per database and sweep (these were inserted outside any sweep).
grep -qF "| \`$T/r.db\` | (single runs) | - | 63 |" "$MD" || fail "provenance: $(grep -F 'single runs' "$MD")"
# The scale our runs were trained at is named, per procedure and architecture.
grep -qF '| as published | unet | 15 | 1, 2, 3 |' "$MD" || fail "scale table: $(grep -F '| as published |' "$MD")"

# The study's own numbers (published.tsv) under the same rules.
expect "$J" ac_beats_nonprivate_unet study holds
expect "$J" ac_beats_nonprivate_nested_unet study holds
expect "$J" rs_highest_train_loss_unet study holds
expect "$J" more_noise_less_privacy_spent study holds
expect "$J" complexity_more_privacy_spent study "does not hold" # same q, sigma, steps: same epsilon
expect "$J" nested_higher_accuracy study holds
expect "$J" more_noise_lower_dice study holds
# Ours as published.
expect "$J" ac_beats_nonprivate_unet as_published holds
expect "$J" ac_beats_nonprivate_nested_unet as_published holds
expect "$J" rs_highest_train_loss_unet as_published holds
expect "$J" more_noise_less_privacy_spent as_published holds
expect "$J" complexity_more_privacy_spent as_published "does not hold"
expect "$J" nested_higher_accuracy as_published holds
expect "$J" more_noise_lower_dice as_published holds
# Ours corrected: AC beats non-private only at the untuned lr.
expect "$J" ac_beats_nonprivate_unet corrected "lr artefact"
expect "$J" ac_beats_nonprivate_nested_unet corrected "lr artefact"
expect "$J" rs_highest_train_loss_unet corrected "not enough runs" # no RS corrected runs

# Every published number the report prints is the TSV's, in its row.
# (empty cells as "-": read would merge consecutive tabs)
while read -r method arch sigma lr _ _ _ _ _ vloss vdice vacc eps _; do
  [[ $method == method || $method == \#* ]] && continue
  s=$sigma
  [[ $sigma != - ]] && s=$(awk -v x="$sigma" 'BEGIN{printf "%g", x}')
  want="| $arch | $method | $s | $(printf '%.4f' "$vloss") | $(printf '%.4f' "$vdice") | $(printf '%.4f' "$vacc") | "
  if [[ $eps != - ]]; then want+="$(printf '%.2f' "$eps") |"; else want+="- |"; fi
  grep -qF -- "$want" "$MD" || fail "report row for $arch $method $s: expected '$want'"
done < <(awk -F'\t' 'BEGIN{OFS=" "} {for (i = 1; i <= NF; i++) if ($i == "") $i = "-"; print}' "$PUB")
# Ours as published next to it: 3 runs, Dice mean +- CI, and the epsilon check.
grep -qF '| unet | automatic | 0.5 | 2.6461 | 0.2137 | 0.7434 | 146.00 | 3 | 0.2100 ± 0.0050 | 0.7400 ± 0.0000 | 131.40 | yes (146.00, relative difference 0.0e+00) |' "$MD" ||
  fail "as-published row for unet AC 0.5: $(grep -F '| unet | automatic | 0.5 |' "$MD")"
grep -qF '| 0.1600 ± 0.0050 (n 3, lr 0.0005) |' "$MD" || fail "pivot cell"
grep -qF '| corrected | unet | nonprivate | - | 0.05 | 3 | 0.9000 |' "$MD" || fail "per-class row"

# Two configurations of one procedure are never pooled as seeds: one corrected U-Net
# run trained for 30 epochs beside the others' default is refused, naming both runs.
sqlite3 "$T/r.db" "UPDATE runs SET config = '{\"data\":{\"size\":[16,16]},\"train\":{\"epochs\":30}}' WHERE id = (SELECT id FROM runs
  WHERE arch = 'unet' AND clipping = 'flat' OR (arch = 'unet' AND config = '{}') ORDER BY id DESC LIMIT 1)"
if "$CB" report --study --db "$T/r.db" --out "$T/o1" --published "$PUB" --no-figures 2>"$T/err" >/dev/null; then
  fail "runs of two configurations pooled"
fi
[[ $(wc -l <"$T/err") -eq 1 ]] && grep -q "corrected unet runs .* 30 epochs.* cannot be pooled" "$T/err" ||
  fail "two configurations: $(cat "$T/err")"
sqlite3 "$T/r.db" "UPDATE runs SET config = '{}' WHERE config LIKE '%epochs%'"

# Flips. AC below non-private in U-Net, as published:
sqlite3 "$T/r.db" "UPDATE epochs SET val_dice = val_dice - 0.1 WHERE run_id IN (SELECT id FROM runs
  WHERE arch = 'unet' AND clipping = 'automatic' AND noise_multiplier = 0.5 AND config LIKE '%opacus%')"
J=$(report "$T/o2" --no-figures)
expect "$J" ac_beats_nonprivate_unet as_published "does not hold"
expect "$J" more_noise_lower_dice as_published "does not hold" # AC 0.5 now below AC 1.0
expect "$J" ac_beats_nonprivate_nested_unet as_published holds
# One seed left of Nested U-Net's non-private arm: no interval, not enough runs.
sqlite3 "$T/r.db" "DELETE FROM runs WHERE arch = 'nested_unet' AND clipping = 'none' AND seed > 1
  AND config LIKE '%opacus%' OR (arch = 'nested_unet' AND clipping = 'none' AND seed > 1 AND config LIKE '%shuffle%');
  DELETE FROM epochs WHERE run_id NOT IN (SELECT id FROM runs)"
J=$(report "$T/o3" --no-figures)
expect "$J" ac_beats_nonprivate_nested_unet as_published "not enough runs"
expect "$J" ac_beats_nonprivate_nested_unet corrected "lr artefact"
# No lr axis in the corrected runs: the untuned comparison stands.
sqlite3 "$T/r.db" "DELETE FROM epochs WHERE run_id IN (SELECT id FROM runs WHERE lr > 0.01);
  DELETE FROM runs WHERE lr > 0.01"
J=$(report "$T/o4" --no-figures)
expect "$J" ac_beats_nonprivate_unet corrected holds
# A PRV epsilon differing from the study's is flagged (the primary accountant's is shown).
sqlite3 "$T/r.db" "UPDATE epochs SET eps_prv = 150 WHERE run_id IN (SELECT id FROM runs WHERE
  arch = 'unet' AND clipping = 'automatic' AND noise_multiplier = 0.5 AND config LIKE '%opacus%')"
report "$T/o5" --no-figures >/dev/null
grep -F '| unet | automatic | 0.5 |' "$T/o5/README.md" | grep -qF '| 131.40 | **no** (150.00, relative difference 2.7e-02) |' || fail "epsilon check"
# The study's verdict follows the TSV: U-Net AC below non-private.
awk -F'\t' 'BEGIN{OFS="\t"} $1=="automatic" && $2=="unet" {$11=0.1} {print}' "$PUB" >"$T/pub.tsv"
cp "$SRC/docs/reproduction/published_curves.tsv" "$T/" # read beside --published
J=$("$CB" report --study --db "$T/r.db" --out "$T/o6" --published "$T/pub.tsv" --no-figures --json)
expect "$J" ac_beats_nonprivate_unet study "does not hold"

# A run of ours shorter than the study's 100 epochs has spent less privacy: its
# final epsilon is not checked against the study's final one.
sqlite3 "$T/r.db" "UPDATE runs SET config = json_set(config, '$.train.epochs', 6) WHERE arch = 'unet' AND clipping = 'automatic' AND noise_multiplier = 0.5 AND config LIKE '%opacus%'"
report "$T/o10" --no-figures >/dev/null
grep -F '| unet | automatic | 0.5 | 2.6461 |' "$T/o10/README.md" | grep -qF '| - (6 of 100 epochs; see the epoch-by-epoch table) |' ||
  fail "short run's epsilon check: $(grep -F '| unet | automatic | 0.5 | 2.6461 |' "$T/o10/README.md")"
sqlite3 "$T/r.db" "UPDATE runs SET config = json_remove(config, '$.train.epochs') WHERE config LIKE '%\"epochs\":6%'"
# A run of ours longer than the study's validation list (59 entries for U-Net's
# non-private 100 epochs) is read at the list's last entry, 59 (Dice 0.1615).
one=$(sqlite3 "$T/r.db" "SELECT id FROM runs WHERE arch = 'unet' AND clipping = 'none' AND config LIKE '%shuffle%' ORDER BY id LIMIT 1")
sqlite3 "$T/r.db" "INSERT INTO epochs (run_id, epoch, val_loss, val_dice, written_at) VALUES ('$one', 59, 2.5, 0.2, 0), ('$one', 80, 2.4, 0.3, 0)"
report "$T/o9" --no-figures >/dev/null
grep -qF '| unet | nonprivate | - | 59 | 1 | 0.2 | 0.1615 (ours +0.0385) |' "$T/o9/README.md" ||
  fail "epoch-matched at the study's last entry: $(grep -F '| unet | nonprivate | - |' "$T/o9/README.md")"

# Bad input: one line naming the file and the fix.
printf '# x\nmethod\tarch\n' >"$T/bad.tsv"
if "$CB" report --study --db "$T/r.db" --out "$T/o7" --published "$T/bad.tsv" 2>"$T/err"; then
  fail "a TSV without columns accepted"
fi
[[ $(wc -l <"$T/err") -eq 1 ]] && grep -q "bad.tsv:2: the header has no column 'sigma'" "$T/err" ||
  fail "bad TSV message: $(cat "$T/err")"
if "$CB" report --study --db "$T/none.db" --out "$T/o8" 2>"$T/err"; then fail "missing db accepted"; fi
[[ $(wc -l <"$T/err") -eq 1 ]] || fail "missing db: $(cat "$T/err")"
echo "study_report: ok"
