#!/usr/bin/env bash
# clipbench sweep --slurm --submit on a real single-node SLURM that this test
# starts: munged (as the munge user, its own key), slurmctld and slurmd (as
# root) with a minimal slurm.conf (this machine's name and CPUs,
# proctrack/linuxproc, task/none, select/cons_tres, MaxArraySize=4, state and
# spool under a temporary folder, ports of its own). A 6-run sweep goes out as
# two chained arrays (MaxArraySize read from scontrol, --max-running 2); one
# task is cancelled half-way (scancel); status shows it stopped; submitting
# again sends only that run, which resumes from its checkpoint; every run is
# trained to the end exactly once; merging gives the rows of a local run of
# the same sweep. Every daemon this test started is stopped by its pid on
# exit (jobs cancelled first). Where SLURM cannot start here, the test says
# why and reports SKIPPED (77).
# Usage: slurm_cluster.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  exit 1
}
[[ $(id -u) -eq 0 ]] || skip "starting slurmctld, slurmd and munged needs root"
for c in munged munge slurmctld slurmd sbatch squeue scancel scontrol sinfo setpriv sqlite3; do
  command -v $c > /dev/null || skip "$c is not installed (.ci/install-deps installs slurm-wlm and munge)"
done
id munge > /dev/null 2>&1 || skip "no munge user (the munge package creates it)"

T=$(mktemp -d /tmp/cb-slurm.XXXXXX)
chmod 755 "$T"
DAEMONS=()
ctl_up() { [[ -n ${SLURM_CONF:-} ]] && timeout 10 scontrol ping 2> /dev/null | grep -q UP; }
# Jobs first (their slurmstepd would outlive slurmd), then the daemons by pid.
cleanup() {
  set +e
  if ((${#DAEMONS[@]})) && ctl_up; then
    timeout 10 scancel --user="$(id -un)" 2> /dev/null
    for _ in $(seq 1 300); do
      [[ -z $(timeout 10 squeue -h 2> /dev/null) ]] &&
        [[ $(timeout 10 scontrol listpids 2> /dev/null | wc -l) -le 1 ]] && break
      sleep 0.1
    done
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do kill "${DAEMONS[$i]}" 2> /dev/null; done
  for p in "${DAEMONS[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$p" 2> /dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2> /dev/null
    wait "$p" 2> /dev/null
  done
  if [[ -n ${KEEP:-} ]]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
logs() { tail -n 15 "$T"/log/* 2> /dev/null; }

# Ports nobody listens on (several of these tests may run at once).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<> /dev/tcp/127.0.0.1/$p) 2> /dev/null || {
      echo $p
      return
    }
  done
  return 1
}
P1=$(free_port) && P2=$(free_port) && [[ $P1 != "$P2" ]] || skip "no free ports"

# munge: its own key and socket, run as the munge user.
mkdir -p "$T"/munge "$T"/munge-key "$T"/state "$T"/spool "$T"/log "$T"/work
chown munge:munge "$T"/munge "$T"/munge-key
chmod 755 "$T"/munge
chmod 700 "$T"/munge-key
dd if=/dev/urandom of="$T"/munge-key/munge.key bs=1024 count=1 status=none
chown munge:munge "$T"/munge-key/munge.key
chmod 600 "$T"/munge-key/munge.key
SOCK=$T/munge/munge.socket
setpriv --reuid=munge --regid=munge --init-groups munged -F --key-file="$T"/munge-key/munge.key \
  --socket="$SOCK" --pid-file="$T"/munge/munged.pid --log-file="$T"/log/munged.log \
  --seed-file="$T"/munge/seed > "$T"/log/munged.out 2>&1 &
DAEMONS+=($!)
for _ in $(seq 1 100); do
  [[ -S $SOCK ]] && break
  sleep 0.1
done
munge -S "$SOCK" -n 2> /dev/null | unmunge -S "$SOCK" > /dev/null 2>&1 || {
  logs
  skip "munged does not start here"
}

H=$(hostname)
NODE=$(slurmd -C 2> /dev/null | head -n 1)
[[ $NODE == NodeName=* ]] || skip "slurmd -C cannot describe this machine"
cat > "$T"/slurm.conf << CONF
ClusterName=cbtest
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$P1
SlurmdPort=$P2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=10
MaxArraySize=4
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$T/slurm.conf
t_up=$SECONDS
slurmctld -D -f "$SLURM_CONF" > "$T"/log/slurmctld.out 2>&1 &
DAEMONS+=($!)
slurmd -D -N "$H" -f "$SLURM_CONF" > "$T"/log/slurmd.out 2>&1 &
DAEMONS+=($!)
state=
for _ in $(seq 1 300); do
  state=$(timeout 10 sinfo -h -o %t 2> /dev/null || true)
  [[ $state == idle ]] && break
  sleep 0.1
done
[[ $state == idle ]] || {
  logs
  skip "the single-node SLURM did not come up (node state '${state:-none}'; logs above)"
}
echo "SLURM up in $((SECONDS - t_up)) s"

# From here on SLURM works: every failure is a failure.
cd "$T"/work
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
. "$E2E_DIR/lib/slurm_tiny.sh"
wait_queue_empty() {
  for _ in $(seq 1 1200); do
    [[ -z $(squeue -h) ]] && return 0
    sleep 0.2
  done
  squeue
  fail "jobs still queued after 4 minutes"
}

"$CB" sweep s.yaml --db ref/r.db --jobs 2 --quiet > /dev/null
rows ref/r.db > ref.rows

# Submit: MaxArraySize=4 splits the 6 runs into two arrays, chained.
t0=$SECONDS
"$CB" sweep s.yaml --slurm --submit --db main/m.db --max-running 2 --cpus-per-task 1 --time 10 \
  > sub1.out 2> sub1.err || { cat sub1.out sub1.err; fail "--slurm --submit"; }
cat sub1.out
J1=$(sed -n 's/^submitted job \([0-9]*\): .*job-1.sbatch, --array=0-3%2 (4 tasks)$/\1/p' sub1.out)
J2=$(sed -n "s/^submitted job \\([0-9]*\\): .*job-2.sbatch, --array=0-1%2 (2 tasks), after job $J1\$/\\1/p" sub1.out)
[[ -n $J1 && -n $J2 ]] || fail "expected two chained arrays of 4 and 2 tasks"
[[ $(q main/m.db "SELECT group_concat(slurm_job_id || '_' || slurm_task_id, ' ') FROM (SELECT r.* FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id ORDER BY sr.idx)") == \
  "${J1}_0 ${J1}_1 ${J1}_2 ${J1}_3 ${J2}_0 ${J2}_1" ]] || fail "job ids not recorded in the main database"
[[ $(q main/m.db "SELECT slurm_log FROM runs r JOIN sweep_runs sr ON sr.run_id = r.id WHERE sr.idx = 5") == \
  "$T/work/$D/logs/${J2}_1.out" ]] || fail "task log not recorded"

# Position 5 (task 1 of the second array, the longest run) is cancelled
# after two epochs; status shows it running on its job first.
sh5=$(shard_at 5)
for _ in $(seq 1 3000); do
  [[ $(q "$sh5" "SELECT count(*) FROM epochs" 2> /dev/null || echo 0) -ge 2 ]] && break
  sleep 0.05
done
"$CB" status tiny --db main/m.db > st1.txt
grep -q "running .*\[job ${J2}_1 on $H\]" st1.txt || { cat st1.txt; fail "status does not show the running task"; }
scancel "${J2}_1"
wait_queue_empty
echo "first submission done in $((SECONDS - t0)) s"
stopped=$(q "$sh5" "SELECT count(*) FROM epochs")
[[ $stopped -ge 2 && $stopped -lt $E ]] || fail "the cancelled task stopped at epoch $stopped"
[[ $(q "$sh5" "SELECT status FROM runs") == pending ]] || fail "the cancelled run was not given back"
grep -q "CANCELLED" "$D/logs/${J2}_1.out" || fail "no cancellation in the task's log"
"$CB" status tiny --db main/m.db > st2.txt
grep -q "5 finished or failed in shards not merged yet" st2.txt &&
  grep -q "pending .*job ${J2}_1 was stopped at epoch $stopped" st2.txt || { cat st2.txt; fail "status after the cancel"; }

# Submitting again sends only the cancelled run; it resumes.
"$CB" sweep s.yaml --slurm --submit --db main/m.db --cpus-per-task 1 > sub2.out 2>&1 || { cat sub2.out; fail "second submit"; }
grep -q "; 1 to run" sub2.out || { cat sub2.out; fail "second submission should cover one run"; }
J3=$(sed -n 's/^submitted job \([0-9]*\): .*job.sbatch, --array=0-0 (1 task)$/\1/p' sub2.out)
[[ -n $J3 ]] || { cat sub2.out; fail "second submission"; }
wait_queue_empty
grep -q "attempt 2 by .*, $stopped epochs done" "$D/shards/logs/$(basename "$sh5" .db).log" ||
  fail "the resubmitted task did not resume from epoch $stopped"
for i in $(seq 0 $((N - 1))); do
  [[ $(q "$(shard_at $i)" "SELECT status FROM runs") == finished ]] || { cat "$D"/logs/*; fail "position $i not finished"; }
done
[[ $(cat "$D"/shards/logs/*.log | grep -c '^== .* finished$') -eq $N ]] || fail "a run was trained to the end more than once"
[[ $(q "$(shard_at 0)" "SELECT attempts FROM runs") -eq 1 ]] || fail "a run was attempted twice"
grep -c "nothing to submit" > /dev/null <("$CB" sweep s.yaml --slurm --submit --db main/m.db 2>&1) || fail "a finished sweep was submitted again"

# Merge: the rows of the local sweep.
"$CB" merge --db main/m.db "$D"/shards > merge.out || { cat merge.out; fail "merge"; }
rows main/m.db > main.rows
diff ref.rows main.rows > /dev/null || fail "merged rows differ from the local sweep"
"$CB" status tiny --db main/m.db | grep -c "6 finished, 0 running, 0 failed, 0 pending" > /dev/null || fail "status after merge"
echo "SLURM sweep: ok ($((SECONDS - t0)) s from the first submission to the merge)"
