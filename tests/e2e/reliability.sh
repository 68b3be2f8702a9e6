#!/usr/bin/env bash
# Reliability under faults (issue 16), each part quick:
#  1. stopping a sweep (SIGTERM to the sweep process, as Ctrl-C or SLURM
#     preemption do) never uses up a run's attempts: six stops leave
#     attempts - interruptions at 0, and a crash afterwards is retried;
#  2. a results database deleted while a sweep runs stops it with one line
#     and a non-zero exit instead of "finished";
#  3. a foreign SQLite file is refused by every command, byte for byte
#     unchanged and still in its journal mode; status/export/report read our
#     database on a read-only mount (root: a read-only bind mount; otherwise
#     a read-only folder), and read-only commands never write to it;
#  4. data.path is relative to the file that sets it, and a missing dataset
#     stops run, sweep and --slurm with one line before anything is written
#     (a dry run notes it);
#  5. a full disk (a 512 KiB tmpfs when mount works: ENOSPC; everywhere a file
#     size limit, ulimit -f, which fails writes with EFBIG) is named as such,
#     stops the sweep from starting more runs, and a plain re-run resumes the
#     run it stopped;
#  9. exit statuses: usage errors 2, Ctrl-C 130; status flags a dead local
#     worker at once.
# Usage: reliability.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
PIDS=()
MOUNTS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 -- "$p" 2> /dev/null || true; done
  sleep 0.2
  for m in "${MOUNTS[@]}"; do umount "$m" 2> /dev/null || true; done
  chmod -R u+w "$T" 2> /dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
q() { sqlite3 "$1" "$2"; }
wait_rows() { # until $1 has at least $2 epoch rows
  for _ in $(seq 1 600); do
    n=$(q "$1" "SELECT count(*) FROM epochs" 2> /dev/null || echo 0)
    [[ $n -ge $2 ]] && return 0
    sleep 0.05
  done
  fail "$1: no $2 epoch rows in time"
}
wait_running() { # until $1 has a run held by a worker
  for _ in $(seq 1 600); do
    n=$(q "$1" "SELECT count(*) FROM runs WHERE status = 'running'" 2> /dev/null || echo 0)
    [[ $n -ge 1 ]] && return 0
    sleep 0.05
  done
  fail "$1: no run claimed in time"
}
cat > base.yaml <<'YAML'
seed: 4
backend: cpu
data: {size: [16, 16], count: 24}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 40, batch_size: 8, lr: 0.05}
YAML
cat > sweep.yaml <<'YAML'
name: rel
base: base.yaml
grid:
  seed: [1, 2, 3]
YAML

echo "--- 1: interruptions do not count as attempts"
for i in 1 2 3 4 5 6; do
  "$CB" sweep sweep.yaml --db one/r.db --jobs 1 --quiet > /dev/null 2> one.err &
  P=$!
  PIDS+=("$P")
  wait_running one/r.db
  kill -TERM "$P"
  set +e
  wait "$P"
  rc=$?
  set -e
  [[ $rc -eq 130 ]] || fail "a sweep stopped by SIGTERM exits $rc, not 130: $(cat one.err)"
done
r=$(q one/r.db "SELECT id FROM runs WHERE interruptions > 0")
[[ -n $r ]] || fail "no run recorded an interruption"
[[ $(q one/r.db "SELECT max(attempts - interruptions) FROM runs WHERE status != 'running'") -eq 0 ]] ||
  fail "stops were counted as attempts: $(q one/r.db 'SELECT id, attempts, interruptions FROM runs')"
[[ $(q one/r.db "SELECT sum(interruptions) FROM runs") -ge 6 ]] || fail "six stops, fewer interruptions"
# The default limit is 5 attempts: after six stops a crash (kill -9 of the
# worker) is the first that counts, and the run is retried, not failed.
"$CB" sweep sweep.yaml --db one/r.db --jobs 1 --quiet > /dev/null 2>&1 &
P=$!
PIDS+=("$P")
n=$(q one/r.db "SELECT count(*) FROM epochs")
wait_rows one/r.db $((n + 1))
w=$(q one/r.db "SELECT worker FROM runs WHERE status = 'running'")
kill -9 "${w##*:}"
wait_rows one/r.db $((n + 2))
kill -TERM "$P"
wait "$P" || true
[[ $(q one/r.db "SELECT count(*) FROM runs WHERE status = 'failed'") -eq 0 ]] ||
  fail "a crash after interruptions failed the run: $(q one/r.db 'SELECT id, attempts, interruptions, error FROM runs')"
[[ $(q one/r.db "SELECT max(attempts - interruptions) FROM runs WHERE status != 'running'") -eq 1 ]] ||
  fail "the crash should be the one counted attempt: $(q one/r.db 'SELECT id, attempts, interruptions FROM runs')"

echo "(${SECONDS}s)"
echo "--- 2: a database deleted while the sweep runs"
"$CB" sweep sweep.yaml --db two/r.db --jobs 1 --quiet > /dev/null 2> two.err &
P=$!
PIDS+=("$P")
wait_rows two/r.db 1
# The worker may write a checkpoint (latest or best-validation) into a folder
# rm has just emptied; delete again until the folder is gone.
for _ in 1 2 3 4 5 6 7 8 9 10; do rm -rf two 2> /dev/null && break; sleep 0.05; done
[[ ! -e two/r.db ]] || fail "could not delete two/r.db"
set +e
wait "$P"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "the sweep exited 0 after its database was deleted: $(cat two.err)"
grep -q "two/r.db: the results database was deleted" two.err || fail "no clear line: $(cat two.err)"
[[ $(wc -l < two.err) -eq 1 ]] || fail "more than one line: $(cat two.err)"

echo "(${SECONDS}s)"
echo "--- 3: foreign files are never changed; read-only mounts are read"
q other.db "CREATE TABLE schema_migrations (version INTEGER); INSERT INTO schema_migrations VALUES (9);
  CREATE TABLE invoices (x); INSERT INTO invoices VALUES (42);"
before=$(sha256sum < other.db)
for cmd in "status --db other.db" "export --db other.db" "report --db other.db --out o.html" \
  "sweep sweep.yaml --db other.db --dry-run" "sweep sweep.yaml --db other.db --quiet" \
  "run base.yaml --db other.db --quiet" "merge --db m.db other.db"; do
  set +e
  # shellcheck disable=SC2086
  out=$("$CB" $cmd 2>&1)
  rc=$?
  set -e
  [[ $rc -ne 0 ]] || fail "clipbench $cmd accepted a foreign database"
  grep -q "not a clipbench results database" <<< "$out" || fail "clipbench $cmd: $out"
  [[ $(sha256sum < other.db) == "$before" ]] || fail "clipbench $cmd changed the foreign file"
  [[ ! -e other.db-wal ]] || fail "clipbench $cmd created other.db-wal"
  [[ $(q other.db "PRAGMA journal_mode") == delete ]] || fail "clipbench $cmd switched its journal mode"
done
[[ ! -e m.db ]] || fail "merge left an empty main database after refusing its only shard"
# Our database, finished runs, read where nothing can be written.
cat > small.yaml <<'YAML'
name: ro
base: base.yaml
set: {train.epochs: 1}
YAML
"$CB" sweep small.yaml --db ro/r.db --quiet > /dev/null
sum_ro=$(sha256sum < ro/r.db)
for cmd in "status ro" "export --query runs" "sweep small.yaml --dry-run"; do
  # shellcheck disable=SC2086
  "$CB" $cmd --db ro/r.db > /dev/null || fail "clipbench $cmd on a writable folder"
done
[[ $(sha256sum < ro/r.db) == "$sum_ro" ]] || fail "a read-only command wrote to the database"
mkdir -p romnt
ro_db=""
if [[ $(id -u) -eq 0 ]] && mount --bind -o ro ro romnt 2> /dev/null; then
  MOUNTS+=("$T/romnt")
  mount -o remount,bind,ro romnt 2> /dev/null || true
  touch romnt/probe 2> /dev/null && fail "the read-only bind mount is writable"
  ro_db=romnt/r.db
  echo "(read-only bind mount)"
elif [[ $(id -u) -ne 0 ]]; then
  chmod a-w ro ro/r.db
  ro_db=ro/r.db
  echo "(read-only folder)"
else
  echo "(root without mount: read-only mount case skipped)"
fi
if [[ -n $ro_db ]]; then
  "$CB" status ro --db "$ro_db" > ro.out 2>&1 || fail "status on a read-only mount: $(cat ro.out)"
  grep -q "1 runs\|finished" ro.out || fail "status on a read-only mount: $(cat ro.out)"
  [[ $("$CB" export --db "$ro_db" --query "SELECT count(*) FROM runs WHERE status = 'finished'" |
    tail -1) -eq 1 ]] || fail "export on a read-only mount"
fi

echo "(${SECONDS}s)"
echo "--- 4: data paths are relative to the file; a missing dataset stops before anything is queued"
mkdir -p exp/sub data
"$CB" data synth --out data/npy --size 16 16 --count 24 > /dev/null
cat > exp/sub/e.yaml <<'YAML'
backend: cpu
data: {source: npy, path: ../../data/npy, size: [16, 16]}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 1, batch_size: 8, lr: 0.05}
YAML
printed=$(cd exp && "$CB" run sub/e.yaml --print-config)
grep -q 'path: "../data/npy"' <<< "$printed" || fail "data.path is not resolved against the experiment file"
"$CB" run exp/sub/e.yaml --db four/r.db --quiet || fail "an experiment with a relative data.path"
cat > exp/missing.yaml <<'YAML'
backend: cpu
data: {source: npy, path: no/such/folder, size: [16, 16]}
YAML
cat > exp/sweep.yaml <<'YAML'
name: nodata
base: missing.yaml
grid: {seed: [1, 2]}
YAML
for cmd in "run exp/missing.yaml" "sweep exp/sweep.yaml" "sweep exp/sweep.yaml --slurm"; do
  set +e
  # shellcheck disable=SC2086
  out=$("$CB" $cmd --db nodata/r.db 2>&1)
  rc=$?
  set -e
  [[ $rc -ne 0 ]] || fail "clipbench $cmd accepted a missing dataset"
  grep -q "exp/no/such/folder" <<< "$out" || fail "clipbench $cmd: $out"
  [[ $(wc -l <<< "$out") -eq 1 ]] || fail "clipbench $cmd: more than one line: $out"
  [[ ! -e nodata ]] || fail "clipbench $cmd wrote $(ls -R nodata) before checking the data"
done
# A dry run only plans: the missing data is a note.
noted=$("$CB" sweep exp/sweep.yaml --dry-run --db nodata/r.db 2>&1 > /dev/null)
grep -q "note: .*exp/no/such/folder" <<< "$noted" || fail "the dry run does not note the missing data: $noted"

echo "(${SECONDS}s)"
echo "--- 5: a full disk"
full_case() { # $1 = folder on a small disk (or under a size limit), $2 = runner prefix
  local d=$1
  cat > "$d/base.yaml" <<'YAML'
seed: 4
backend: cpu
data: {size: [16, 16], count: 24}
model: {arch: unet, width: 24, depth: 2}
train: {epochs: 1, batch_size: 8, lr: 0.05}
YAML
  cat > "$d/sweep.yaml" <<'YAML'
name: full
base: base.yaml
grid:
  seed: [1, 2]
YAML
  set +e
  (cd "$d" && eval "$2" "$CB" sweep sweep.yaml --db r.db --jobs 1 --quiet) > full.out 2>&1
  rc=$?
  set -e
  [[ $rc -eq 75 ]] || fail "a full disk: exit $rc, not 75: $(cat full.out)"
  grep -q "$3" full.out || fail "a full disk is not named as such: $(cat full.out)"
  grep -q "NFS" full.out && fail "a full disk explained as NFS: $(cat full.out)"
  [[ $(q "$d/r.db" "SELECT count(*) FROM runs WHERE status = 'failed'") -eq 0 ]] ||
    fail "runs marked failed on a full disk: $(q "$d/r.db" 'SELECT id, error FROM runs')"
  [[ $(q "$d/r.db" "SELECT count(*) FROM runs WHERE attempts > 0") -eq 1 ]] ||
    fail "the sweep kept starting runs on a full disk: $(q "$d/r.db" 'SELECT id, attempts FROM runs')"
  [[ -z ${4:-} ]] && return 0
  # Space again (here: no limit): a plain re-run resumes everything.
  (cd "$d" && "$CB" sweep sweep.yaml --db r.db --jobs 1 --quiet > /dev/null) ||
    fail "a plain re-run after the disk filled does not finish"
  [[ $(q "$d/r.db" "SELECT count(*) FROM runs WHERE status = 'finished'") -eq 2 ]] ||
    fail "not every run finished after the re-run"
}
mkdir -p tiny
if [[ $(id -u) -eq 0 ]] && mount -t tmpfs -o size=512k tmpfs tiny 2> /dev/null; then
  MOUNTS+=("$T/tiny")
  full_case tiny "" "No space left on device (the disk is full"
  echo "(tmpfs: ENOSPC)"
fi
# A file size limit works without privileges (EFBIG; the checkpoint of the
# width-24 U-Net, about 1 MB, is larger than 512 KiB, the database stays
# smaller), and a plain re-run without the limit resumes.
mkdir -p limit
full_case limit "ulimit -f 512;" "the file reached the largest size allowed" resume

echo "(${SECONDS}s)"
echo "--- 9: exit statuses and dead workers in status"
set +e
"$CB" sweep sweep.yaml --jobs 0 > /dev/null 2>&1
[[ $? -eq 2 ]] || fail "--jobs 0 is not a usage error (2)"
"$CB" sweep sweep.yaml --no-such-option > /dev/null 2>&1
[[ $? -eq 2 ]] || fail "an unknown option is not a usage error (2)"
"$CB" status --db > /dev/null 2>&1
[[ $? -eq 2 ]] || fail "a missing option value is not a usage error (2)"
out=$("$CB" merge --db merged.db no/such/shard.db 2>&1)
[[ $? -ne 0 ]] || fail "merge of a missing shard succeeded"
set -e
[[ ! -e merged.db ]] || fail "merge of a missing shard created the main database"
grep -q "no/such/shard.db: No such file or directory; nothing was merged" <<< "$out" || fail "merge: $out"
# A run held by a process of this host that no longer exists: status says
# the worker is dead at once (no ETA as if it were running).
cp one/r.db dead.db
id1=$(q dead.db "SELECT id FROM runs LIMIT 1")
sleep 30 &
dead=$!
kill -9 $dead
wait $dead 2> /dev/null || true
q dead.db "UPDATE runs SET status = 'running', worker = '$(hostname):$dead', heartbeat_at = unixepoch('now') WHERE id = '$id1'"
"$CB" status rel --db dead.db > st.out
grep "$id1" st.out | grep -q "dead" || fail "status shows a dead local worker as running: $(cat st.out)"
js=$("$CB" status rel --db dead.db --json)
grep "\"$id1\"" <<< "$js" | grep -q '"worker_dead":true' || fail "status --json does not flag the dead worker: $js"
echo "reliability: ok (${SECONDS}s)"
