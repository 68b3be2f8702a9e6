#!/usr/bin/env bash
# Kill soak (not run in CI; takes minutes): a sweep killed with kill -9 at
# random moments ROUNDS times, then run to the end, has exactly the rows of an
# uninterrupted sweep, every run finished once (one "finished" line in its
# log), and no kill counted as an attempt (its workers gave their runs back).
# Usage: kill_soak.sh CLIPBENCH [ROUNDS (100)]
set -euo pipefail
CB=$(realpath "$1")
ROUNDS=${2:-100}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
cat > base.yaml <<'YAML'
seed: 3
backend: cpu
data: {size: [16, 16], count: 24}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 8, batch_size: 8, lr: 0.05, momentum: 0.9}
dp: {clipping: flat, noise_multiplier: 0.7, accountants: [rdp]}
YAML
cat > sweep.yaml <<'YAML'
name: soak
base: base.yaml
grid: {seed: [1, 2, 3, 4, 5, 6]}
YAML
rows() {
  sqlite3 -separator ' ' "$1" "SELECT run_id, epoch, step, train_loss, val_loss, val_dice,
    epsilon, norm_p50 FROM epochs ORDER BY run_id, epoch"
}
"$CB" sweep sweep.yaml --db clean/r.db --jobs 2 --quiet > /dev/null
rows clean/r.db > clean.rows
for i in $(seq 1 "$ROUNDS"); do
  "$CB" sweep sweep.yaml --db soak/r.db --jobs 2 --quiet > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.1 + (r % 250) / 100 }')"
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  left=$(sqlite3 soak/r.db "SELECT count(*) FROM runs WHERE status != 'finished'" 2> /dev/null || echo 1)
  echo "round $i: $left runs not finished"
  [[ $left -eq 0 ]] && break
done
"$CB" sweep sweep.yaml --db soak/r.db --jobs 2 --quiet > /dev/null
rows soak/r.db > soak.rows
diff clean.rows soak.rows > /dev/null || fail "rows after the kills differ from the uninterrupted sweep"
for log in soak/logs/[0-9a-f]*.log; do
  [[ $(grep -c '^== .* finished$' "$log") -eq 1 ]] || fail "$log: not finished exactly once"
done
[[ $(sqlite3 soak/r.db "SELECT max(attempts - interruptions) FROM runs") -le 1 ]] ||
  fail "kills were counted as attempts: $(sqlite3 soak/r.db 'SELECT id, attempts, interruptions FROM runs')"
echo "kill_soak: ok"
