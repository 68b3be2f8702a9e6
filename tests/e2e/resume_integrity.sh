#!/usr/bin/env bash
# Resume checks its inputs (issue 16, 6): a run killed with SIGKILL whose
# checkpoint then gets one flipped bit resumes from the previous checkpoint
# and ends with the rows and weights of an uninterrupted run (the flip is
# named); a truncated checkpoint with no previous one restarts the run from
# scratch, saying so, and ends the same; a dataset replaced between the kill
# and the resume is refused with one line.
# Usage: resume_integrity.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
PID=""
cleanup() {
  [[ -n $PID ]] && kill -9 "$PID" 2> /dev/null
  rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
"$CB" data synth --out data --size 16 16 --count 24 --seed 1 > /dev/null
cat > exp.yaml <<'YAML'
seed: 5
backend: cpu
data: {source: npy, path: data, size: [16, 16]}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 6, batch_size: 8, lr: 0.05, optimizer: sgd, momentum: 0.9}
dp: {clipping: flat, noise_multiplier: 0.8, accountants: [rdp]}
YAML
rows() {
  sqlite3 -separator ' ' "$1" "SELECT epoch, step, train_loss, val_loss, val_dice, epsilon,
    frac_clipped, norm_p50 FROM epochs ORDER BY epoch"
}
ckpt() { sha256sum "$(dirname "$1")"/checkpoints/*/checkpoint.safetensors | cut -d' ' -f1; }
# Runs exp.yaml into $1 and kills it (SIGKILL) once $2 epochs have rows.
run_and_kill() {
  "$CB" run exp.yaml --db "$1" --quiet &
  PID=$!
  for _ in $(seq 1 1200); do
    n=$(sqlite3 "$1" "SELECT count(*) FROM epochs" 2> /dev/null || echo 0)
    [[ ${n:-0} -ge $2 ]] && break
    sleep 0.02
  done
  kill -9 "$PID" 2> /dev/null || true
  wait "$PID" 2> /dev/null || true
  PID=""
  [[ $(sqlite3 "$1" "SELECT status FROM runs") == running ]] || fail "$1: the run ended before the kill"
}
flip_bit() { # $1 file, $2 offset from the end
  local size off b
  size=$(stat -c %s "$1")
  off=$((size - $2))
  b=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 4)))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}

"$CB" run exp.yaml --db a/r.db --quiet
rows a/r.db > a.rows
[[ $(wc -l < a.rows) -eq 6 ]] || fail "the clean run has $(wc -l < a.rows) epochs"

# One flipped bit in the last checkpoint: refused, the previous one is used.
run_and_kill b/r.db 3
c=$(ls b/checkpoints/*/checkpoint.safetensors)
[[ -e ${c%.safetensors}.prev.safetensors ]] || fail "no previous checkpoint kept beside $c"
flip_bit "$c" 100
"$CB" run exp.yaml --db b/r.db > b.out 2>&1 || fail "resume after a flipped bit: $(cat b.out)"
grep -q "is damaged: its checksum does not match" b.out || fail "the flipped bit went unnoticed: $(cat b.out)"
grep -q "resuming from the previous checkpoint instead" b.out || fail "what happens next is not stated: $(cat b.out)"
rows b/r.db > b.rows
diff a.rows b.rows || fail "rows after the damaged checkpoint differ from the clean run"
[[ $(ckpt a/r.db) == "$(ckpt b/r.db)" ]] || fail "final weights differ from the clean run"

# A truncated checkpoint and no previous one: the run starts over, saying so.
run_and_kill c/r.db 2
c=$(ls c/checkpoints/*/checkpoint.safetensors)
rm -f "${c%.safetensors}.prev.safetensors"
truncate -s 1000 "$c"
"$CB" run exp.yaml --db c/r.db > c.out 2>&1 || fail "resume after truncation: $(cat c.out)"
grep -q "training the run from the start instead" c.out || fail "truncation: $(cat c.out)"
rows c/r.db > c.rows
diff a.rows c.rows || fail "rows after a restart from scratch differ from the clean run"

# The dataset replaced between the kill and the resume: refused.
run_and_kill d/r.db 2
fp=$(sqlite3 d/r.db "SELECT data_fingerprint FROM runs")
[[ ${#fp} -eq 64 ]] || fail "the run does not record its data fingerprint: '$fp'"
rm -rf data
"$CB" data synth --out data --size 16 16 --count 24 --seed 2 > /dev/null
set +e
"$CB" run exp.yaml --db d/r.db > d.out 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a resume on replaced data was accepted"
grep -q "the data changed since this run started" d.out || fail "replaced data: $(cat d.out)"
[[ $(wc -l < d.out) -eq 1 ]] || fail "replaced data: more than one line: $(cat d.out)"
[[ $(sqlite3 d/r.db "SELECT data_fingerprint FROM runs") == "$fp" ]] ||
  fail "the refused resume changed the run's data fingerprint"
echo "resume_integrity: ok (${SECONDS}s)"
