#!/usr/bin/env bash
# clipbench sweep --slurm and clipbench merge without a cluster: the written
# array scripts are run by hand as SLURM would run them (SLURM_ARRAY_TASK_ID).
# A 6-run sweep split into two arrays (--max-array-size 4) gets one shard per
# run holding the frozen sweep; one task is stopped by SIGTERM half-way
# (status shows it stopped); writing the array again covers only that run,
# which resumes from its checkpoint; merging gives the same rows as a local
# sweep, merging twice changes nothing, shards alone rebuild the database;
# a task of a merged run exits at once even without its shard; conflicting
# values, positions, a newer schema and a foreign file are refused with
# nothing merged; a diverging run is failed in its shard, shown with its
# task's log, not resubmitted, and merged as failed.
# Usage: slurm_shards.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2> /dev/null || true; done
  if [[ -n ${KEEP:-} ]]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
cd "$T"
# No cluster here, whatever this machine has: SLURM's commands answer that
# there is none (as squeue does on a machine without a controller).
mkdir bin
for c in squeue scontrol sbatch; do
  printf '#!/bin/sh\necho "%s: error: no SLURM controller in this test" >&2\nexit 1\n' $c > bin/$c
  chmod +x bin/$c
done
export PATH=$T/bin:$PATH OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
unset SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SLURM_CONF
fail() {
  echo "FAIL: $*"
  exit 1
}
. "$E2E_DIR/lib/slurm_tiny.sh"
task() { # JOB TASK SCRIPT: run one array task as SLURM would
  SLURM_ARRAY_JOB_ID=$1 SLURM_ARRAY_TASK_ID=$2 bash "$3" > "task_$1_$2.out" 2>&1
}

# The reference: the same sweep trained locally.
"$CB" sweep s.yaml --db ref/r.db --jobs 2 --quiet > /dev/null
rows ref/r.db > ref.rows
[[ $(q ref/r.db "SELECT count(*) FROM epochs") -eq $((N * E)) ]] || fail "reference sweep"

# --slurm: freezes the sweep, writes two arrays and the shards; trains nothing.
"$CB" sweep s.yaml --slurm --db main/m.db --max-running 2 --max-array-size 4 --cpus-per-task 1 \
  --time 10 --partition debug --sbatch=--qos=test > w1.out 2> w1.err || { cat w1.out w1.err; fail "--slurm"; }
[[ -f $D/job-1.sbatch && -f $D/job-2.sbatch && ! -e $D/job.sbatch ]] || { ls $D; fail "expected two scripts"; }
grep -q '^#SBATCH --array=0-3%2$' $D/job-1.sbatch || fail "first array"
grep -q '^#SBATCH --array=0-1%2$' $D/job-2.sbatch || fail "second array"
for opt in --qos=test --time=10 --partition=debug --cpus-per-task=1 "--output=$T/$D/logs/%A_%a.out"; do
  grep -q -- "^#SBATCH $opt\$" $D/job-1.sbatch || fail "#SBATCH $opt missing"
done
[[ $(grep -c '^  "[0-9]* [0-9a-f]\{16\}"$' $D/job-1.sbatch) -eq 4 ]] || fail "RUNS of the first array"
grep -q "dependency=afterany:\$j1 .*job-2.sbatch" w1.out || { cat w1.out; fail "chained submission not shown"; }
grep -q "0 finished, 0 failed.*; 6 to run" w1.out || { cat w1.out; fail "plan summary"; }
[[ $(ls $D/shards/*.db | wc -l) -eq $N ]] || fail "expected $N shards"
[[ $(q main/m.db "SELECT count(*) FROM epochs") -eq 0 ]] || fail "--slurm trained something"
spec=$(q main/m.db "SELECT spec FROM sweeps")
for i in $(seq 0 $((N - 1))); do
  sh=$(shard_at $i)
  [[ $(q "$sh" "SELECT r.idx || ' ' || r.run_id FROM sweep_runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = 'tiny'") == \
    "$i $(basename "$sh" .db)" ]] || fail "$sh does not hold its run at position $i"
  [[ $(q "$sh" "SELECT spec FROM sweeps") == "$spec" ]] || fail "$sh lacks the frozen sweep"
done

# The tasks, two at a time; the longest run (position 5, task 1 of the second
# array) is stopped by SIGTERM (scancel, time limit) after two epochs.
sh5=$(shard_at 5)
SLURM_ARRAY_JOB_ID=21 SLURM_ARRAY_TASK_ID=1 bash $D/job-2.sbatch > task_21_1.out 2>&1 &
p=$!
PIDS+=($p)
for _ in $(seq 1 2000); do
  [[ $(q "$sh5" "SELECT count(*) FROM epochs" 2> /dev/null || echo 0) -ge 2 ]] && break
  sleep 0.01
done
kill -TERM $p
if wait $p; then fail "a task stopped by SIGTERM exited 0"; fi
stopped=$(q "$sh5" "SELECT count(*) FROM epochs")
[[ $stopped -ge 2 && $stopped -lt $E ]] || fail "stopped at epoch $stopped"
[[ $(q "$sh5" "SELECT status FROM runs") == pending ]] || fail "the stopped run was not given back"
grep -q '"status":"pending"' "${sh5%.db}.json" || fail "status file of the stopped task"
task 20 0 $D/job-1.sbatch &
task 20 1 $D/job-1.sbatch &
wait
task 20 2 $D/job-1.sbatch &
task 20 3 $D/job-1.sbatch &
wait
task 21 0 $D/job-2.sbatch || { cat task_21_0.out; fail "task 21_0"; }
grep -q '"job":"20_1","host":' "$(shard_at 1 | sed 's/\.db$/.json/')" || fail "status file lacks the job"
[[ $(q "$(shard_at 1)" "SELECT slurm_job_id || '_' || slurm_task_id || ' ' || slurm_log FROM runs") == \
  "20_1 $T/$D/logs/20_1.out" ]] || fail "the shard does not record its SLURM job"
"$CB" status tiny --db main/m.db > st1.txt
grep -q "5 finished or failed in shards not merged yet" st1.txt || { cat st1.txt; fail "status: unmerged shards"; }
grep -q "pending .*job 21_1 was stopped at epoch $stopped" st1.txt || { cat st1.txt; fail "status: stopped task"; }
"$CB" status tiny --db main/m.db --json | head -1 | grep -c '"unmerged":5' > /dev/null || fail "status --json"

# Writing the array again covers only the stopped run; it resumes.
"$CB" sweep s.yaml --slurm --db main/m.db > w2.out 2>&1 || { cat w2.out; fail "second --slurm"; }
grep -q "5 finished in shards not merged yet; 1 to run" w2.out || { cat w2.out; fail "second plan"; }
[[ -f $D/job.sbatch && ! -e $D/job-1.sbatch ]] || fail "old scripts not replaced"
grep -q '^#SBATCH --array=0-0$' $D/job.sbatch || fail "one task"
grep -q '^  "5 [0-9a-f]*"$' $D/job.sbatch || fail "the task is not position 5"
task 22 0 $D/job.sbatch || { cat task_22_0.out; fail "resubmitted task"; }
grep -q "attempt 2 by .*, $stopped epochs done" "$D/shards/logs/$(basename "$sh5" .db).log" ||
  fail "the resubmitted task did not resume from epoch $stopped"
for i in $(seq 0 $((N - 1))); do
  [[ $(q "$(shard_at $i)" "SELECT status FROM runs") == finished ]] || fail "position $i not finished"
done
[[ $(cat $D/shards/logs/*.log | grep -c '^== .* finished$') -eq $N ]] || fail "a run was trained twice"

# Merge: the local sweep's rows; twice: nothing changes; shards alone suffice.
"$CB" merge --db main/m.db $D/shards > m1.out || { cat m1.out; fail "merge"; }
grep -q "merged 6 of 6 shards: 0 runs added, 6 taken further" m1.out || { cat m1.out; fail "merge summary"; }
rows main/m.db > main.rows
diff ref.rows main.rows > /dev/null || fail "merged rows differ from the local sweep"
sqlite3 main/m.db .dump > dump1
"$CB" merge --db main/m.db $D/shards/*.db > m2.out || { cat m2.out; fail "second merge"; }
[[ $(grep -c "nothing new" m2.out) -eq $N ]] || { cat m2.out; fail "second merge added something"; }
sqlite3 main/m.db .dump > dump2
cmp -s dump1 dump2 || fail "merging twice changed the database"
"$CB" merge --db fresh/f.db $D/shards > /dev/null || fail "merge into a new database"
rows fresh/f.db > fresh.rows
diff ref.rows fresh.rows > /dev/null || fail "shards alone do not rebuild the sweep"
"$CB" status tiny --db main/m.db > st2.txt
grep -q "6 finished, 0 running, 0 failed, 0 pending" st2.txt || { cat st2.txt; fail "status after merge"; }
! grep -q "not merged" st2.txt || fail "status still lists unmerged shards"
grep -c "nothing to submit" > /dev/null <("$CB" sweep s.yaml --slurm --db main/m.db 2>&1) || fail "a finished sweep was resubmitted"

# A task whose run is finished in the main database exits at once, shard or not.
rm -f "$sh5" "$sh5"-* "${sh5%.db}.json"
task 23 0 $D/job.sbatch || { cat task_23_0.out; fail "a finished run's task failed"; }
grep -q "already finished in $T/main/m.db" task_23_0.out || fail "no 'already finished' message"
[[ ! -e $sh5 ]] || fail "the task made a shard for a finished run"

# Conflicts: nothing of the shard is merged, the run and column are named.
sh2=$(shard_at 2)
id2=$(basename "$sh2" .db)
cp "$sh2" c.db
q c.db "UPDATE epochs SET train_loss = train_loss + 0.25 WHERE epoch = 3"
if "$CB" merge --db main/m.db c.db > c.out 2>&1; then fail "a conflicting shard was merged"; fi
grep -q "c.db: conflict, nothing merged" c.out && grep -q "run $id2 .*epochs, epoch 3: train_loss is .* in .*m.db but .* in the shard" c.out ||
  { cat c.out; fail "conflict report"; }
cp "$sh2" p.db
q p.db "UPDATE sweep_runs SET idx = 42"
if "$CB" merge --db main/m.db p.db > p.out 2>&1; then fail "a shard with another position was merged"; fi
grep -q "run $id2 is at position 42 of sweep tiny in the shard but at 2" p.out || { cat p.out; fail "position conflict"; }
sqlite3 main/m.db .dump > dump3
cmp -s dump1 dump3 || fail "a refused merge changed the database"
# A partial copy (epochs 1-3 of the finished run) is a prefix: no conflict.
cp "$sh2" pre.db
q pre.db "PRAGMA foreign_keys = ON; DELETE FROM epochs WHERE epoch > 3; UPDATE runs SET status = 'pending'"
"$CB" merge --db main/m.db pre.db | grep -c "nothing new" > /dev/null || fail "a prefix of a finished run"
"$CB" merge --db part/x.db pre.db > /dev/null
"$CB" merge --db part/x.db "$sh2" | grep -c "0 runs added, 1 taken further" > /dev/null || fail "a finished run does not take a partial one further"
[[ $(q part/x.db "SELECT status || ' ' || count(*) FROM runs JOIN epochs ON run_id = id") == "finished $E" ]] || fail "partial run not replaced"
# A newer schema and a foreign file are refused.
cp "$sh2" n.db
q n.db "INSERT INTO schema_migrations VALUES (99, 'from the future', 0, 'x')"
if "$CB" merge --db main/m.db n.db > n.out 2>&1; then fail "a newer shard was merged"; fi
grep -q "schema version 99 is newer than this clipbench understands" n.out || { cat n.out; fail "newer schema message"; }
q o.db "CREATE TABLE t (x)"
if "$CB" merge --db main/m.db o.db > o.out 2>&1; then fail "a foreign database was merged"; fi
grep -q "not a clipbench results database" o.out || { cat o.out; fail "foreign file message"; }
sqlite3 main/m.db .dump > dump4
cmp -s dump1 dump4 || fail "refused shards changed the database"

# A diverging run fails in its shard: status shows it with the task's log; it
# is not resubmitted; merged, it is failed with its error and log.
cat > div.yaml << 'YAML'
name: div
base: base.yaml
set: {train.epochs: 2}
grid:
  train.lr: [1.0e9]
YAML
"$CB" sweep div.yaml --slurm --db main/m.db > /dev/null 2>&1 || fail "--slurm div"
if task 30 0 main/m.slurm/div/job.sbatch; then fail "a diverging task exited 0"; fi
"$CB" status div --db main/m.db > st3.txt
grep -q "failed .*error: diverged.*log: $T/main/m.slurm/div/logs/30_0.out" st3.txt || { cat st3.txt; fail "status of a failed task"; }
"$CB" sweep div.yaml --slurm --db main/m.db > w3.out 2>&1
grep -q "1 failed in shards; 0 to run" w3.out && grep -q "not submitted again without --retry-failed" w3.out ||
  { cat w3.out; fail "a failed run was resubmitted"; }
"$CB" merge --db main/m.db main/m.slurm/div/shards > /dev/null
[[ $(q main/m.db "SELECT status, slurm_log FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id JOIN sweeps s ON s.id = sr.sweep_id WHERE s.name = 'div'") == \
  "failed|$T/main/m.slurm/div/logs/30_0.out" ]] || fail "the failed run was not merged as failed"
echo "slurm shards and merge: ok"
