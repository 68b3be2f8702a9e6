#!/usr/bin/env bash
# CLI conventions shared by every command: help lines fit 79 columns (or are
# one unbreakable word), did-you-mean for mistyped commands and options,
# short options -j/-o/-q, deprecated spellings that still work with exactly
# one line saying so, output folders created like --db's, and bench's
# progress line on a terminal (and not when piped).
# Usage: cli_conventions.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$T"

# Every command's --help: no line over 79 columns unless it is one word.
cmds=$("$CB" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')
[[ $(wc -w <<< "$cmds") -ge 15 ]] || fail "commands list: $cmds"
"$CB" --help | awk 'length > 79 && NF > 1' | grep . && fail "clipbench --help has lines over 79 columns"
for c in $cmds "data synth" "data preview" "data info" "data import-duke"; do
  $CB $c --help > help.txt || fail "$c --help"
  long=$(awk 'length > 79 && NF > 1' help.txt)
  [[ -z $long ]] || fail "clipbench $c --help has lines over 79 columns: $long"
  [[ $c == data ]] || grep -q -- "-h, --help" help.txt || fail "$c --help lacks -h"
done

expect_err() {
  local want=$1
  shift
  local out
  if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
  [[ $(wc -l <<< "$out") == 1 ]] || fail "error is not one line: $out"
  grep -qF -- "$want" <<< "$out" || fail "error lacks '$want': $out"
}
expect_err "did you mean 'run'?" "$CB" rnu
expect_err "did you mean 'status'?" "$CB" stauts
expect_err "unknown command 'zzzzzz' (run clipbench --help" "$CB" zzzzzz
expect_err "did you mean --jobs?" "$CB" sweep x.yaml --jbos 2
expect_err "did you mean --dry-run?" "$CB" sweep x.yaml --dryrun
expect_err "did you mean --batch-size?" "$CB" epsilon --batchsize 10
expect_err "unknown option '--frobnicate' (see clipbench run --help)" "$CB" run x.yaml --frobnicate
expect_err "unknown option '-z'" "$CB" run x.yaml -z

# -o writes (creating folders), -q and -j parse the same as the long ones.
cat > e.yaml <<'YAML'
data: {size: [32, 32], count: 12}
model: {arch: unet, width: 4, depth: 2}
train: {epochs: 1, batch_size: 6, lr: 0.05}
YAML
"$CB" run e.yaml --db out/db/r.db -q > run.txt 2> run.err || fail "run -q: $(cat run.err)"
[[ ! -s run.err ]] || fail "run -q wrote progress: $(cat run.err)"
[[ $(wc -l < run.txt) == 1 ]] || fail "run -q: only the summary line expected: $(cat run.txt)"
"$CB" export --db out/db/r.db --query final -o a/b/final.tsv || fail "export -o"
[[ $(wc -l < a/b/final.tsv) == 2 ]] || fail "export -o a/b/final.tsv"
"$CB" export --db out/db/r.db --query final -oc/final.tsv && [[ -s c/final.tsv ]] || fail "export -oFILE"
"$CB" data synth -o data/synth --images 4 --size 32 32 > /dev/null || fail "data synth -o into new folders"
[[ $(ls data/synth/images | wc -l) == 4 ]] || fail "data synth wrote $(ls data/synth/images | wc -l) images"
"$CB" data preview synthetic --images 4 --size 32 32 --draw 2 -o figs/deep/p.png > /dev/null || fail "preview into new folders"
printf 'name: s\nbase: e.yaml\nseeds: 2\n' > s.yaml
[[ $("$CB" sweep s.yaml --db out/db/r.db -j2 --dry-run | grep -c '^ *[0-9]') == 2 ]] || fail "sweep -j2 --dry-run"
"$CB" sweep s.yaml --db out/db/r.db -j 2 --dry-run > /dev/null || fail "sweep -j 2"
expect_err "-jobs expects an integer" "$CB" sweep s.yaml -j x

# Old spellings: one deprecation line on stderr, same meaning.
"$CB" bench --batch 0 > /dev/null 2> dep.txt && fail "bench --batch 0 accepted"
[[ $(head -1 dep.txt) == "clipbench bench: --batch is deprecated, use --batch-size" ]] || fail "bench deprecation: $(cat dep.txt)"
grep -q "error: --batch-size" dep.txt || fail "the old spelling did not set --batch-size: $(cat dep.txt)"

# bench progress: a rewritten line on a terminal, nothing when piped.
B=(bench --arch unet --width 4 --size 32 --batch-size 2 --steps 1 --rounds 1 --warmup 0 --mode flat)
"$CB" "${B[@]}" 2> piped.err > /dev/null || fail "bench"
[[ ! -s piped.err ]] || fail "bench progress went to a pipe: $(cat piped.err)"
if command -v script > /dev/null; then
  script -qec "$CB ${B[*]}" /dev/null > tty.txt || fail "bench on a terminal"
  grep -qa "bench: .*elapsed .*ETA" tty.txt || fail "bench progress: $(tr '\r' '\n' < tty.txt | head)"
fi
echo ok
