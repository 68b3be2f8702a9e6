#!/usr/bin/env bash
# clipbench sweep: a tiny sweep (3 arms x 2 architectures x 2 noise multipliers,
# the non-private arm collapsing to one run per architecture: 10 runs) runs to
# the end; running it again trains nothing; killing the sweep process (kill -9)
# mid-way, or the whole process group as in a crash, and starting it again
# completes every run exactly once with the same rows as the uninterrupted
# sweep; a worker killed while training is replaced and its run resumes; two
# sweep processes on one database at once train every run exactly once; a
# diverging configuration is recorded as failed while the rest finishes, the
# exit code is non-zero and status shows the error; one position of a frozen
# sweep runs alone (--worker NAME --index I).
# Usage: sweep_resume.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
PIDS=()
# Stop what this test started (workers follow their sweep process).
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 -- "$p" 2> /dev/null || true; done
  sleep 0.2
  rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cat > base.yaml <<'YAML'
seed: 4
data: {size: [32, 32], count: 64}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 4, batch_size: 8, lr: 0.05, momentum: 0.9}
dp: {clipping: flat, noise_multiplier: 0.5, accountants: [rdp]}
YAML
cat > sweep.yaml <<'YAML'
name: grid
base: base.yaml
arms:
  nonprivate: {dp.clipping: none}
  per_layer: {dp.clipping: per_layer}
  automatic: {dp: {clipping: automatic, automatic: {scope: per_layer}}}
grid:
  model.arch: [unet, nested_unet]
  dp.noise_multiplier: [0.5, 1.0]
YAML
N=10
E=4
fail() { echo "FAIL: $*"; exit 1; }
q() { sqlite3 "$1" "$2"; }
rows() { # every epoch column but timing, in a stable order
  q "$1" "SELECT run_id, epoch, step, train_loss, val_loss, val_pixel_acc, val_dice, epsilon,
    frac_clipped, norm_p10, norm_p50, norm_max FROM epochs ORDER BY run_id, epoch"
}
# The worker logs say "finished" once per completed training of a run.
finished_lines() { cat "$1"/logs/[0-9a-f]*.log | grep -c '^== .* finished$' || true; }
all_done() {
  [[ $(q "$1" "SELECT count(*) FROM runs WHERE status = 'finished'") -eq $N ]] || fail "$1: not every run finished"
  [[ $(q "$1" "SELECT count(*) FROM epochs") -eq $((N * E)) ]] || fail "$1: expected $((N * E)) epoch rows"
}
wait_epochs() { # until the database has at least $2 epoch rows
  for _ in $(seq 1 1000); do
    n=$(q "$1" "SELECT count(*) FROM epochs" 2>/dev/null || echo 0)
    [[ ${n:-0} -ge $2 ]] && return 0
    sleep 0.01
  done
}
no_workers() { # the workers of a database have exited
  for _ in $(seq 1 500); do
    pgrep -f -- "--worker grid --db $T/$1" > /dev/null || return 0
    sleep 0.02
  done
  fail "workers of $1 are still running"
}

# Dry run: the expansion, nothing written.
"$CB" sweep sweep.yaml --db $T/a/r.db --dry-run > dry.txt
[[ $(grep -c ' new ' dry.txt) -eq $N ]] || { cat dry.txt; fail "dry run should list $N new runs"; }
grep -q '12 points -> 10 runs (2 points share a run' dry.txt || { cat dry.txt; fail "collapse not reported"; }
[[ ! -e a/r.db ]] || fail "the dry run created the database"

# The reference: one uninterrupted sweep.
"$CB" sweep sweep.yaml --db $T/a/r.db --jobs 2 --threads 1 > a.out 2> a.err || { cat a.err; fail "sweep failed"; }
all_done a/r.db
rows a/r.db > a.rows
[[ $(finished_lines a) -eq $N ]] || fail "expected $N finished runs in the logs"
grep -q "trained 10 (10 finished, 0 failed, 0 given back)" a.out || { cat a.out; fail "summary"; }
"$CB" sweep sweep.yaml --db $T/a/r.db --dry-run | grep -c ' finished ' > /dev/null || fail "dry run does not show statuses"

# Running it again trains nothing and changes nothing.
before=$(q a/r.db "SELECT id, attempts, finished_at FROM runs ORDER BY id")
"$CB" sweep sweep.yaml --db $T/a/r.db --jobs 2 > a2.out 2> a2.err || fail "re-run failed"
grep -q "trained 0 (0 finished, 0 failed, 0 given back)" a2.out || { cat a2.out a2.err; fail "a finished sweep trained again"; }
[[ $(q a/r.db "SELECT id, attempts, finished_at FROM runs ORDER BY id") == "$before" ]] || fail "re-run changed runs"
[[ $(finished_lines a) -eq $N ]] || fail "a run was trained again"

# kill -9 of the sweep process mid-way: its workers are told to stop (their
# runs go back to pending at once); starting again completes the sweep.
"$CB" sweep sweep.yaml --db $T/b/r.db --jobs 2 --threads 1 > b1.out 2>&1 &
pid=$!
PIDS+=($pid)
wait_epochs b/r.db 14
kill -9 $pid 2> /dev/null || true
wait $pid 2> /dev/null || true
no_workers b/r.db
n_b=$(q b/r.db "SELECT count(*) FROM epochs")
"$CB" sweep sweep.yaml --db $T/b/r.db --jobs 2 --threads 1 > b2.out 2> b2.err || { cat b2.err; fail "resume failed"; }
all_done b/r.db
rows b/r.db > b.rows
diff a.rows b.rows > /dev/null || fail "rows after kill -9 and restart differ from the uninterrupted sweep"
[[ $(finished_lines b) -eq $N ]] || fail "a run was completed more than once (or not at all) after kill -9"
echo "killed after $n_b of $((N * E)) epochs"

# A crash: kill -9 of the whole process group, workers included. Their runs
# are left running by dead processes of this host and are taken back at once.
setsid "$CB" sweep sweep.yaml --db $T/c/r.db --jobs 2 --threads 1 > c1.out 2>&1 &
pid=$!
PIDS+=(-$pid) # its own process group
wait_epochs c/r.db 14
kill -9 -- -$pid 2> /dev/null || true
wait $pid 2> /dev/null || true
no_workers c/r.db
n_c=$(q c/r.db "SELECT count(*) FROM epochs")
stuck=$(q c/r.db "SELECT count(*) FROM runs WHERE status = 'running'")
"$CB" sweep sweep.yaml --db $T/c/r.db --jobs 2 --threads 1 > c2.out 2> c2.err || { cat c2.err; fail "resume after crash failed"; }
all_done c/r.db
rows c/r.db > c.rows
diff a.rows c.rows > /dev/null || fail "rows after a crash and restart differ from the uninterrupted sweep"
[[ $(finished_lines c) -le $N ]] || fail "a run was completed twice after the crash"
[[ $(q c/r.db "SELECT max(attempts) FROM runs") -le 2 ]] || fail "a run was attempted more than twice"
echo "crashed after $n_c epochs with $stuck runs left running"

# A worker killed while training (out of memory, say): the sweep gives its run
# back, starts another worker and finishes with the same rows.
"$CB" sweep sweep.yaml --db $T/f/r.db --jobs 1 --threads 1 > f.out 2>&1 &
pid=$!
PIDS+=($pid)
wait_epochs f/r.db 6
w=$(pgrep -f -- "--worker grid --db $T/f/r.db" || true)
[[ -n $w ]] && kill -9 $w
wait $pid || { cat f.out; fail "the sweep did not survive a dead worker"; }
all_done f/r.db
rows f/r.db > f.rows
diff a.rows f.rows > /dev/null || fail "rows after a worker was killed differ"
if [[ -n $w ]]; then
  grep -q "worker $w was killed by signal 9 while training" f.out || { cat f.out; fail "no message for the dead worker"; }
  [[ $(q f/r.db "SELECT count(*) FROM runs WHERE attempts = 2") -eq 1 ]] || fail "the dead worker's run was not retried once"
fi

# Two sweep processes on one database at the same time.
"$CB" sweep sweep.yaml --db $T/d/r.db --jobs 1 --threads 1 > d1.out 2>&1 &
p1=$!
PIDS+=($p1)
"$CB" sweep sweep.yaml --db $T/d/r.db --jobs 1 --threads 1 > d2.out 2>&1 &
p2=$!
PIDS+=($p2)
wait $p1 || { cat d1.out; fail "first concurrent sweep failed"; }
wait $p2 || { cat d2.out; fail "second concurrent sweep failed"; }
all_done d/r.db
rows d/r.db > d.rows
diff a.rows d.rows > /dev/null || fail "rows of two concurrent sweeps differ"
[[ $(q d/r.db "SELECT count(*) FROM runs WHERE attempts != 1") -eq 0 ]] || fail "a run was claimed twice"
[[ $(finished_lines d) -eq $N ]] || fail "a run was trained twice by the concurrent sweeps"
! grep -qi "locked" d1.out d2.out || fail "database is locked"

# A diverging configuration fails; the rest of the sweep continues.
cat > div.yaml <<'YAML'
name: div
base: base.yaml
grid:
  train.lr: [0.05, 1.0e9, 0.01]
YAML
if "$CB" sweep div.yaml --db $T/e/r.db --jobs 1 > e.out 2> e.err; then fail "a sweep with a failed run exited 0"; fi
grep -q "1 of 3 runs failed" e.err || { cat e.err; fail "no failure summary"; }
grep -q "failed .*lr=1000000000: diverged" e.out || { cat e.out; fail "failed run not listed"; }
[[ $(q e/r.db "SELECT count(*) FROM runs WHERE status = 'finished'") -eq 2 ]] || fail "the other runs did not finish"
[[ $(q e/r.db "SELECT error FROM runs WHERE status = 'failed'") == *diverged* ]] || fail "no reason stored"
"$CB" status div --db $T/e/r.db > st.txt
grep -q "1 failed" st.txt && grep -q "error: diverged" st.txt || { cat st.txt; fail "status"; }
"$CB" status --db $T/e/r.db --json | head -1 | grep -c '"failed":1' > /dev/null || fail "status --json"
if "$CB" sweep div.yaml --db $T/e/r.db --retry-failed --quiet > /dev/null 2>&1; then fail "retry should fail again"; fi
[[ $(q e/r.db "SELECT attempts FROM runs WHERE status = 'failed'") -eq 2 ]] || fail "--retry-failed did not run it again"
# One position of a frozen sweep (what a SLURM array task runs): a finished
# run exits 0 at once, a failed one is refused unless --retry-failed.
"$CB" sweep --worker grid --db $T/a/r.db --index 3 2> w.err || { cat w.err; fail "--index on a finished run"; }
grep -q "already finished" w.err || fail "--index did not say the run is finished"
[[ $(q a/r.db "SELECT id, attempts, finished_at FROM runs ORDER BY id") == "$before" ]] || fail "--index retrained"
if "$CB" sweep --worker div --db $T/e/r.db --index 1 2> w.err; then fail "--index on a failed run exited 0"; fi
grep -q "is failed; --retry-failed" w.err || { cat w.err; fail "message for a failed run"; }
if "$CB" sweep --worker div --db $T/e/r.db --index 1 --retry-failed 2> /dev/null; then fail "retry should fail"; fi
[[ $(q e/r.db "SELECT attempts FROM runs WHERE status = 'failed'") -eq 3 ]] || fail "--index --retry-failed did not train"
if "$CB" sweep --worker div --db $T/e/r.db --index 7 2> w.err; then fail "a missing position was accepted"; fi
grep -q "no run at position 7" w.err || fail "message for a missing position"
echo "sweep resume, concurrency and failures: ok"
