#!/usr/bin/env bash
# clipbench bench under load, and the OpenMP start-up that keeps a loaded
# step from collapsing:
# - the compute commands restart themselves with OMP_WAIT_POLICY=passive, and
#   libgomp really runs with it (spin count 0; without the restart it would
#   still be 300000, which `model`, a command without the restart, shows);
#   a wait policy the user set is left alone;
# - --background-load N starts N busy processes (seen while the bench runs),
#   reports loaded times and slowdowns, and ends them: at a normal exit and
#   when the bench is interrupted (SIGINT, SIGTERM);
# - --preset, --markdown and --progress. No timing is asserted.
# Usage: bench_load.sh PATH-TO-CLIPBENCH SOURCE-DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
TINY=(--size 16 --batch 2 --steps 1 --warmup 0 --width 4 --depth 1 --mode flat --rounds 1)

# The last spin count libgomp displays (the restarted process's).
spin() { grep "GOMP_SPINCOUNT" | tail -1 | sed "s/.*= '\(.*\)'/\1/"; }
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$CB" bench "${TINY[@]}" \
  2>"$T/env" >/dev/null
[[ $(spin <"$T/env") == 0 ]] || fail "bench runs with spin count $(spin <"$T/env"), not passive"
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$CB" model --width 4 --depth 1 \
  2>"$T/env" >/dev/null
[[ $(spin <"$T/env") == 300000 ]] || fail "expected libgomp's default without the restart"
env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose "$CB" bench "${TINY[@]}" \
  --json 2>"$T/env" >"$T/out"
[[ $(spin <"$T/env") == 30000000000 ]] || fail "the user's OMP_WAIT_POLICY=active was overridden"
grep -q '"omp_wait_policy":"active (from the environment)"' "$T/out" || fail "wait policy report"

alive() { # pid: running or stopped, not gone or a zombie
  [[ -r /proc/$1/stat ]] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"
}
busy_children() { # the cb-busy children of a process
  local p
  for p in /proc/[0-9]*; do
    [[ -r $p/stat ]] || continue
    read -r pid comm state ppid _ <"$p/stat" 2>/dev/null || continue
    [[ $ppid == "$1" && $comm == "(cb-busy)" && $state != Z ]] && echo "$pid"
  done
  return 0
}

# A normal run: two busy processes, loaded times, all ended at exit.
"$CB" bench "${TINY[@]}" --background-load 2 --json >"$T/out"
grep -q '"background_load":2' "$T/out" || fail "no background_load in the JSON"
[[ $(grep -c '"loaded_ms_per_step"' "$T/out") -eq 2 ]] || fail "loaded times missing: $(cat "$T/out")"
grep -q '"slowdown_under_load"' "$T/out" || fail "no slowdown"
pids=$(grep '"summary":true' "$T/out" | sed 's/.*"background_load_pids":\[\([0-9,]*\)\].*/\1/' | tr , ' ')
[[ $(wc -w <<<"$pids") -eq 2 ]] || fail "expected 2 busy pids, got '$pids'"
for p in $pids; do alive "$p" && fail "busy process $p still running after the bench"; done

# Interrupted: the busy processes exist while the bench runs and are gone
# after SIGINT / SIGTERM.
for sig in INT TERM; do
  "$CB" bench --size 64 --batch 4 --width 8 --depth 2 --steps 50 --rounds 5 --mode flat \
    --background-load 2 >/dev/null 2>&1 &
  bench=$!
  seen=""
  # They start after the sgemm reference: seconds on a loaded machine.
  for _ in $(seq 1 1200); do
    seen=$(busy_children "$bench")
    [[ $(wc -w <<<"$seen") -eq 2 ]] && break
    kill -0 "$bench" 2>/dev/null || break
    sleep 0.1
  done
  [[ $(wc -w <<<"$seen") -eq 2 ]] || fail "SIG$sig: busy processes never appeared"
  kill -"$sig" "$bench"
  wait "$bench" && fail "SIG$sig: the bench exited 0"
  for _ in $(seq 1 50); do
    left=""
    for p in $seen; do alive "$p" && left="$left $p"; done
    [[ -z $left ]] && break
    sleep 0.1
  done
  [[ -z $left ]] || fail "SIG$sig left busy processes:$left"
done

# Options.
"$CB" bench --preset study --arch unet "${TINY[@]:0:2}" 2>"$T/err" && fail "--preset with --arch"
grep -q "preset study sets" "$T/err" || fail "preset conflict message: $(cat "$T/err")"
"$CB" bench --preset fast 2>"$T/err" && fail "--preset fast accepted"
grep -q "preset must be study" "$T/err" || fail "preset message: $(cat "$T/err")"
"$CB" bench "${TINY[@]}" --json --markdown 2>"$T/err" && fail "--json --markdown accepted"
"$CB" bench "${TINY[@]}" --background-load -1 2>"$T/err" && fail "negative load accepted"
"$CB" bench "${TINY[@]}" --markdown --progress >"$T/md" 2>"$T/err"
grep -q '^| model | mode | ms/step' "$T/md" || fail "markdown header: $(cat "$T/md")"
grep -q '^| unet w4 16x16 b2' "$T/md" || fail "markdown row: $(cat "$T/md")"
grep -q '^    clipbench bench --size 16' "$T/md" || fail "markdown command line"
grep -q 'OpenBLAS' "$T/md" || fail "markdown caption lacks OpenBLAS"
grep -q 'ETA' "$T/err" || fail "--progress printed no ETA: $(cat "$T/err")"
"$CB" bench "${TINY[@]}" >"$T/out" 2>"$T/err"
[[ ! -s "$T/err" ]] || fail "progress on a non-terminal without --progress: $(cat "$T/err")"
echo "bench_load: ok"
