#!/usr/bin/env bash
# One sample-rate convention and the study's procedure switches, end to end:
# - clipbench run, clipbench epsilon --run (recomputed from the database),
#   clipbench epsilon --batch-size/--dataset-size and the export queries behind
#   the report and its figures give one epsilon for one run, at q = B/N by
#   default and q = 1/ceil(N/B) under dp.sample_rate: opacus;
# - every run ends with the test split evaluated with the final and the
#   best-validation weights (test_metrics, test_classes, export columns);
# - shuffle sampling, the batch loss and RS as published are stored and shown
#   as "not a DP guarantee"; RS as published takes one noisy step per two
#   batches, across epoch boundaries, and resumes after kill -9 to the same rows
#   and weights.
# Usage: study_procedure.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
field() { sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"$2"; }
q1() { sqlite3 "$1" "$2"; }

# 40 synthetic images, fractions 0.6/0.2/0.2: N = 24 training images.
cat > exp.yaml <<'YAML'
name: procedure
seed: 3
data: {size: [32, 32], count: 40}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 3, batch_size: 8, lr: 0.05}
dp: {clipping: flat, noise_multiplier: 0.9, accountants: [prv, rdp, gdp]}
YAML

# ---- 1. Poisson, q = B/N: run = epsilon --run = epsilon CLI = export ----
"$CB" run exp.yaml --db a.db --quiet
id=$(q1 a.db "SELECT id FROM runs")
[[ $(q1 a.db "SELECT sample_rate = 8.0 / 24, dataset_size, sampling, dp_guarantee FROM runs") == "1|24|poisson|1" ]] ||
  fail "runs facts: $(q1 a.db "SELECT sample_rate, dataset_size, sampling, dp_guarantee FROM runs")"
[[ $(q1 a.db "SELECT group_concat(step) FROM epochs") == "3,6,9" ]] || fail "steps: ceil(24/8) per epoch"
run_json=$("$CB" epsilon --run "$id" --db a.db --json)
cli_json=$("$CB" epsilon --batch-size 8 --dataset-size 24 --epochs 3 --sigma 0.9 --delta 1e-5 --json)
for acc in rdp prv gdp; do
  r=$(grep "\"requested\":\"$acc\"" <<<"$run_json")
  c=$(grep "\"requested\":\"$acc\"" <<<"$cli_json")
  e_run=$(field epsilon "$r")
  [[ -n $e_run && $e_run == "$(field stored_epsilon "$r")" ]] ||
    fail "$acc: epsilon --run $e_run, stored $(field stored_epsilon "$r")"
  [[ $e_run == "$(field epsilon "$c")" ]] || fail "$acc: epsilon --run $e_run, CLI $(field epsilon "$c")"
  [[ $(field sample_rate "$r") == "$(field sample_rate "$c")" ]] || fail "$acc: q differs: $r / $c"
  [[ $(field steps "$r") == 9 && $(field steps "$c") == 9 ]] || fail "$acc: steps: $r / $c"
done
prv=$(field epsilon "$(grep '"requested":"prv"' <<<"$run_json")")
fin=$("$CB" export --db a.db --query final --format json)
awk -v a="$(field epsilon "$fin")" -v b="$prv" 'BEGIN { exit !(a == b) }' ||
  fail "export final epsilon $(field epsilon "$fin") != $prv"
fig=$("$CB" export --db a.db --query epsilon --format json | tail -1)
awk -v a="$(field epsilon "$fig")" -v b="$prv" 'BEGIN { exit !(a == b) }' ||
  fail "figure data (epsilon query) $(field epsilon "$fig") != $prv"

# ---- 2. the test split: final and best-validation weights ----
[[ $(q1 a.db "SELECT group_concat(weights || ':' || epoch, ' ') FROM (SELECT * FROM test_metrics ORDER BY weights)") == \
  "best_val:$(q1 a.db "SELECT epoch FROM epochs ORDER BY val_dice DESC, epoch LIMIT 1") final:3" ]] ||
  fail "test_metrics rows: $(q1 a.db "SELECT weights, epoch FROM test_metrics")"
[[ $(q1 a.db "SELECT count(*) FROM test_classes") == 18 ]] || fail "test_classes: 9 classes x 2"
[[ $(q1 a.db "SELECT count(*) FROM test_metrics WHERE dice BETWEEN 0 AND 1 AND loss > 0") == 2 ]] ||
  fail "test metrics out of range"
[[ -f checkpoints/$id/best_val.safetensors ]] || fail "no best-validation checkpoint"
[[ $(field test_dice "$fin") == "$(q1 a.db "SELECT dice FROM test_metrics WHERE weights = 'final'")" ]] ||
  awk -v a="$(field test_dice "$fin")" -v b="$(q1 a.db "SELECT dice FROM test_metrics WHERE weights = 'final'")" \
    'BEGIN { exit !(a - b < 1e-12 && b - a < 1e-12) }' || fail "export final test_dice: $fin"
# The best-validation test row must be those weights: an epoch-1 best gives
# another test Dice than the final weights (unless epoch 3 was the best).
best=$(q1 a.db "SELECT epoch FROM test_metrics WHERE weights = 'best_val'")
if [[ $best != 3 ]]; then
  [[ $(q1 a.db "SELECT count(DISTINCT dice) FROM test_metrics") == 2 ]] || fail "best_val row equals final"
fi

# ---- 3. dp.sample_rate: opacus (B = 10: q = 1/ceil(24/10) = 1/3, divisor int(24/3) = 8) ----
"$CB" run exp.yaml --db b.db --quiet --set train.batch_size=10 --set dp.sample_rate=opacus
idb=$(q1 b.db "SELECT id FROM runs")
[[ $(q1 b.db "SELECT sample_rate = 1.0 / 3 FROM runs") == 1 ]] || fail "opacus q: $(q1 b.db "SELECT sample_rate FROM runs")"
[[ $(q1 b.db "SELECT DISTINCT expected_batch FROM epochs") == 8.0 ]] || fail "opacus divisor int(N q)"
r=$("$CB" epsilon --run "$idb" --db b.db --accountant prv --json)
c=$("$CB" epsilon --batch-size 10 --dataset-size 24 --sample-rate-rule opacus --epochs 3 --sigma 0.9 \
  --delta 1e-5 --accountant prv --json)
[[ $(field epsilon "$r") == "$(field epsilon "$c")" && $(field epsilon "$r") == "$(field stored_epsilon "$r")" ]] ||
  fail "opacus: run $r / CLI $c"
c2=$("$CB" epsilon --batch-size 10 --dataset-size 24 --epochs 3 --sigma 0.9 --delta 1e-5 --accountant prv --json)
[[ $(field epsilon "$c2") != "$(field epsilon "$r")" ]] || fail "q = B/N and 1/ceil(N/B) should differ here"

# ---- 4. not a DP guarantee: shuffle, batch loss, RS as published ----
"$CB" run exp.yaml --db c.db --quiet --set train.sampling=shuffle
"$CB" run exp.yaml --db c.db --quiet --set loss.reduction=batch --set loss.dice_smooth=1e-4
[[ $(q1 c.db "SELECT count(*) FROM runs WHERE dp_guarantee = 0") == 2 ]] || fail "dp_guarantee not 0"
# shuffle: fixed-size batches (24 = 3 x 8), so every epoch realises exactly 8
[[ $(q1 c.db "SELECT group_concat(DISTINCT e.realised_batch) FROM epochs e JOIN runs r ON r.id = e.run_id
  WHERE r.sampling = 'shuffle'") == 8.0 ]] || fail "shuffle batches are not of fixed size"
q1 c.db "SELECT dp_caveat FROM runs" | grep -q 'train.sampling: shuffle' || fail "shuffle caveat"
q1 c.db "SELECT dp_caveat FROM runs" | grep -q 'loss.reduction: batch' || fail "batch-loss caveat"
[[ $("$CB" status --db c.db | grep -c 'not a DP guarantee') == 2 ]] || fail "status does not say so"
[[ $("$CB" export --db c.db --query final | grep -c 'not a DP guarantee') == 2 ]] || fail "export final"
ids=$(q1 c.db "SELECT id FROM runs LIMIT 1")
"$CB" epsilon --run "$ids" --db c.db | grep -c '^NOT A DP GUARANTEE: ' > /dev/null || fail "epsilon --run does not say so"
[[ $(q1 a.db "SELECT dp_caveat IS NULL FROM runs") == 1 ]] || fail "a Poisson run got a caveat"

# RS as published: 3 batches per epoch, a noisy step on every second batch of
# the run: cumulative steps 1, 3, 4.
rs=(--set dp.clipping=random_sparsification --set dp.sparsification.as_published=true
  --set train.sampling=shuffle --set dp.sample_rate=opacus)
"$CB" run exp.yaml --db d.db --quiet "${rs[@]}"
[[ $(q1 d.db "SELECT group_concat(step) || '/' || group_concat(steps) FROM epochs") == "1,3,4/1,2,1" ]] ||
  fail "RS as published steps: $(q1 d.db "SELECT group_concat(step) FROM epochs")"
q1 d.db "SELECT dp_caveat FROM runs" | grep -q 'as_published' || fail "RS caveat"
r=$("$CB" epsilon --run "$(q1 d.db "SELECT id FROM runs")" --db d.db --accountant prv --json)
[[ $(field steps "$r") == 4 && $(field epsilon "$r") == "$(field stored_epsilon "$r")" ]] || fail "RS --run: $r"

# Killed and resumed (kill -9 once epoch 1, then 3, has rows): the same rows
# and final weights as the uninterrupted run, including the batch of a pair
# left pending at an epoch boundary.
cat > long.yaml <<'YAML'
name: rs_resume
seed: 4
data: {size: [64, 64], count: 40}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 4, batch_size: 8, lr: 0.05, sampling: shuffle}
dp: {clipping: random_sparsification, noise_multiplier: 0.9, sample_rate: opacus,
     sparsification: {as_published: true}}
YAML
rows() { q1 "$1" "SELECT epoch, step, steps, train_loss, val_loss, val_dice, epsilon FROM epochs ORDER BY epoch"; }
mkdir e f
"$CB" run long.yaml --db e/r.db --quiet
for target in 1 3; do
  "$CB" run long.yaml --db f/r.db --quiet &
  pid=$!
  for _ in $(seq 1 1000); do
    n=$(q1 f/r.db "SELECT count(*) FROM epochs" 2>/dev/null || echo 0)
    [[ ${n:-0} -ge $target ]] && break
    sleep 0.01
  done
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
[[ $(q1 f/r.db "SELECT count(*) FROM epochs") -lt 4 ]] ||
  echo "note: the kills came after the run finished (a very fast machine): resume not exercised"
"$CB" run long.yaml --db f/r.db --quiet
[[ $(rows e/r.db) == "$(rows f/r.db)" ]] || fail "RS as published: resumed rows differ"
sum() { sha256sum "$(find "$1/checkpoints" -name checkpoint.safetensors)" | cut -d' ' -f1; }
[[ $(sum e) == "$(sum f)" ]] || fail "RS as published: resumed weights differ"

# ---- 5. eval.split: test is refused with the fix ----
err=$("$CB" run exp.yaml --db g.db --set eval.split=test 2>&1 >/dev/null) && fail "eval.split test accepted"
[[ $(wc -l <<<"$err") -eq 1 && $err == *"eval.split: test is no longer accepted"*"remove eval.split"* ]] ||
  fail "eval.split error: $err"

if [[ $fails -gt 0 ]]; then
  echo "$fails check(s) failed" >&2
  exit 1
fi
echo "study_procedure: ok"
