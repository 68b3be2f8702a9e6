#!/usr/bin/env bash
# clipbench runs / show / compare and the closing lines of clipbench run:
# filters on config keys, status and sweep (each must keep exactly the right
# runs), ids by unique prefix (an ambiguous or unknown prefix is one clear
# line), the config diff of compare lists exactly the keys that differ, and
# a failed run shows its error.
# Usage: runs_browse.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$T"
cat > base.yaml <<'YAML'
data: {size: [32, 32], count: 12}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 2, batch_size: 6, lr: 0.05}
dp: {clipping: flat, noise_multiplier: 1.0, accountants: [rdp]}
YAML
# A private run: the summary line names the id, the numbers and the next commands.
"$CB" run base.yaml --db r.db > run.out 2> /dev/null
idA=$("$CB" run base.yaml --print-config --json | sed -n 's/^{"run_id":"\([0-9a-f]*\)".*/\1/p')
grep -q "^run $idA: finished 2/2 epochs, val dice .*, epsilon .* (rdp, delta 1e-05); in r.db$" run.out ||
  fail "summary line: $(cat run.out)"
grep -q "^next: clipbench show ${idA:0:8} --db r.db" run.out || fail "next commands: $(cat run.out)"
# Its non-private baseline: ~ deletes keys (the whole dp section here).
"$CB" run base.yaml --db r.db --set '~dp' -q > /dev/null 2>&1 || fail "--set '~dp' did not make a non-private run"
# Deleting only the noise multiplier leaves a private run without one: refused.
"$CB" run base.yaml --set '~dp.noise_multiplier' --print-config > /dev/null 2>&1 &&
  fail "--set '~dp.noise_multiplier' left a private run without noise and was accepted"
"$CB" run base.yaml --set '~dp.noise_multiplier' --set dp.target_epsilon=5 --print-config |
  grep -c "^  target_epsilon: 5" > /dev/null || fail "~dp.noise_multiplier then target_epsilon"
idB=$("$CB" runs --db r.db --filter dp.clipping=none --json | sed 's/.*"run_id":"\([0-9a-f]*\)".*/\1/')
[[ ${#idB} == 16 ]] || fail "no non-private run listed"
# A sweep with two noise multipliers (one of them is run A).
cat > sw.yaml <<'YAML'
name: sw
base: base.yaml
grid:
  dp.noise_multiplier: [1.0, 2.0]
YAML
"$CB" sweep sw.yaml --db r.db -j 1 -q > /dev/null 2>&1 || fail "sweep"
# A failing run.
"$CB" run base.yaml --db r.db --set train.lr=1e12 -q > /dev/null 2>&1 && fail "lr=1e12 did not fail"

count() { "$CB" runs --db r.db "$@" --json | wc -l; }
[[ $(count) == 4 ]] || fail "runs: $(count) rows, expected 4"
[[ $(count --filter dp.clipping=flat) == 3 ]] || fail "dp.clipping=flat"
[[ $(count --filter dp.clipping=flat,none) == 4 ]] || fail "any of flat,none"
[[ $(count --filter 'dp.noise_multiplier>=1.5') == 1 ]] || fail "noise >= 1.5"
[[ $(count --filter 'dp.noise_multiplier!=2') == 3 ]] || fail "noise != 2 (the non-private run has none)"
[[ $(count --filter train.lr=1e12) == 1 ]] || fail "train.lr=1e12"
[[ $(count --filter data.size=[32,32]) == 4 ]] || fail "list value"
[[ $(count --status failed) == 1 ]] || fail "--status failed"
[[ $(count --status finished --filter dp.clipping=flat) == 2 ]] || fail "finished and flat"
[[ $(count --sweep sw) == 2 ]] || fail "--sweep sw"
[[ $(count --filter id=${idA:0:6}) == 1 ]] || fail "id prefix"
"$CB" runs --db r.db --filter 'dp.noise_multiplier>=1.5' | grep -c "^1 run (1 finished" > /dev/null || fail "runs count line"

expect_err() {
  local want=$1
  shift
  local out
  if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
  [[ $(wc -l <<< "$out") == 1 ]] || fail "error is not one line: $out"
  grep -qF -- "$want" <<< "$out" || fail "error lacks '$want': $out"
}
expect_err "did you mean 'dp.noise_multiplier'" "$CB" runs --db r.db --filter dp.noise_multipler=1
expect_err "did you mean 'dp.clip_bound'" "$CB" run base.yaml --set '~dp.clip_bond' --print-config
expect_err "compares numbers" "$CB" runs --db r.db --filter 'dp.clipping<flat'
expect_err "no sweep called 'nope'" "$CB" runs --db r.db --sweep nope
expect_err "no run id starts with 'fff" "$CB" show fffffffffffffff --db r.db
expect_err "is not a run id" "$CB" show XYZ --db r.db
# Two ids sharing a 15-digit prefix: that prefix is ambiguous, the full ids are not.
twin=${idA:0:15}$([[ ${idA:15:1} == 0 ]] && echo 1 || echo 0)
sqlite3 r.db "INSERT INTO runs (id, name, config, clipping, created_at) SELECT '$twin', name, config, clipping, created_at FROM runs WHERE id = '$idA'"
expect_err "ambiguous" "$CB" show "${idA:0:15}" --db r.db
"$CB" show "$idA" --db r.db --no-epochs > /dev/null || fail "full id after a twin"
sqlite3 r.db "DELETE FROM runs WHERE id = '$twin'"

# show: epsilon with delta and accountant, config as dotted keys, epochs.
"$CB" show "${idA:0:5}" --db r.db > show.txt
grep -q "^run $idA " show.txt || fail "show header"
grep -q "epsilon .* at delta 1e-05 (rdp accountant) after 2 epochs" show.txt || fail "show epsilon: $(cat show.txt)"
grep -qE "^  dp.noise_multiplier +1$" show.txt || fail "show config"
grep -qE "^  sweeps +sw \(position 0\)" show.txt || fail "show sweeps"
[[ $(sed -n '/^epochs:/,$p' show.txt | wc -l) == 4 ]] || fail "show epochs table"
"$CB" show "${idB:0:6}" --db r.db | grep -c "non-private run" > /dev/null || fail "show non-private"
idF=$("$CB" runs --db r.db --status failed --json | sed 's/.*"run_id":"\([0-9a-f]*\)".*/\1/')
"$CB" show "$idF" --db r.db | grep -c "^  error .*diverged" > /dev/null || fail "show failed run's error"
"$CB" show "$idA" --db r.db --json | grep -c '"config":{' > /dev/null || fail "show --json"

# compare: exactly the differing keys.
"$CB" compare "${idA:0:6}" "${idB:0:6}" --db r.db > cmp.txt
diffkeys=$(sed -n '/^config/,/^metrics/p' cmp.txt | sed '1d;$d' | awk '{print $1}' | tr '\n' ' ')
[[ $diffkeys == "dp.accountants dp.clip_bound dp.clipping dp.delta dp.noise_multiplier dp.norm_rule dp.secure_mode dp.target_epsilon " ]] ||
  fail "compare keys: '$diffkeys'"
grep -qE "^  epsilon stands on +rdp d=1e-05 +non-private$" cmp.txt || fail "compare epsilon row: $(cat cmp.txt)"
"$CB" compare "$idA" "$idA" --db r.db | grep -c "(identical configurations)" > /dev/null || fail "compare identical"
[[ $("$CB" compare "$idA" "$idB" --db r.db --all | sed -n '/^config/,/^metrics/p' | wc -l) -gt 30 ]] || fail "compare --all"
"$CB" compare "$idA" "$idB" --db r.db --json | grep -c '"dp.clipping":\["flat","none"\]' > /dev/null || fail "compare --json"
expect_err "at least two runs" "$CB" compare "$idA" --db r.db
echo ok
