#!/usr/bin/env bash
# Runs the README's examples, so the README cannot drift from the program:
#   - every line of every ```sh block, in a scratch copy of the repository's
#     shipped files with `clipbench` (and build/clipbench) being this build;
#     the lines of one block share one shell (variables carry over);
#   - every `$ command` line of a plain ``` block, and its output when the
#     README shows one (the lines up to the next `$` or the block's end) must
#     be exactly what the command prints;
#   - every inline `clipbench ...` span with an option and no placeholder
#     (FILE, [--x], A|B, ...), after the blocks (so the demo database exists).
# An HTML comment `<!-- readme-test: skip REASON -->` on the line before a
# block or a paragraph skips it (a GPU, a cluster, a download, minutes); its
# clipbench commands are still checked with --help appended, which parses
# every option first (an unknown or renamed option fails). `bash
# tests/run.sh` (this suite itself) is only checked for syntax; `bash
# sweeps/demo.sh` runs with CLIPBENCH set to this build instead of building
# again. A command that prints a deprecation line fails too. Every failure
# names the README line. Then, for the demo's promise,
# the demo runs again without gnuplot and must say so in one line.
# Usage: readme_examples.sh CLIPBENCH SOURCE_DIR
set -uo pipefail
CB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$2" && pwd)
README=$SRC/README.md
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# The scratch repository: what the README's commands read, nothing built.
mkdir -p "$T/w/build" "$T/bin" "$T/w/tests"
cp -r "$SRC/sweeps" "$SRC/experiments" "$SRC/plots" "$SRC/Makefile.plots" "$SRC/.ci" "$T/w/"
cp "$SRC/tests/run.sh" "$T/w/tests/"
rm -rf "$T/w/plots/out"
ln -s "$CB" "$T/bin/clipbench"
ln -s "$CB" "$T/w/build/clipbench"
export PATH=$T/bin:$PATH CLIPBENCH=$CB

# README -> one record per line: KIND|LINE|BLOCK|SKIP|TEXT
#   C a command (BLOCK: which block; 0 = inline), O an expected output line.
awk '
  function flush_cmd() { if (cmd != "") { print kind "|" cline "|" block "|" skip_b "|" cmd; cmd = "" } }
  /^<!-- readme-test: skip / { pending = $0; sub(/^<!-- readme-test: skip /, "", pending); sub(/ *-->$/, "", pending); next }
  /^```/ {
    if (!fence) {
      fence = 1; block++; lang = substr($0, 4); skip_b = pending; pending = ""; dollar = 0; next
    }
    flush_cmd(); fence = 0; lang = ""; skip_b = ""; next
  }
  fence && lang == "sh" {
    line = $0
    if (cmd == "" && (line ~ /^[ \t]*#/ || line ~ /^[ \t]*$/)) next
    sub(/[ \t]+#[^"'\'']*$/, "", line)            # a trailing comment
    if (cmd == "") { cline = NR; kind = "C" }
    if (line ~ /\\$/) { sub(/\\$/, "", line); cmd = cmd line; next }
    cmd = cmd line; flush_cmd(); next
  }
  fence && lang == "" {
    if ($0 ~ /^\$ /) { cmd = substr($0, 3); cline = NR; kind = "C"; flush_cmd(); dollar = 1; next }
    if (dollar) print "O|" NR "|" block "||" $0
    next
  }
  fence { next }
  /^[ \t]*$/ { para_skip = ""; next }
  {
    if (pending != "") { para_skip = pending; pending = "" }
    rest = $0
    while (match(rest, /`clipbench [^`]*`/)) {
      span = substr(rest, RSTART + 1, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH)
      if (span !~ / --/) continue                         # a mention, not an example
      if (span ~ /\[|\.\.\.|<[a-zA-Z]|\||(^| |=)[A-Z][A-Z0-9_]*([ .=]|$)/) continue   # a synopsis
      print "C|" NR "|0|" para_skip "|" span
    }
  }
' "$README" > "$T/items"
[[ $(grep -c '^C|' "$T/items") -ge 15 ]] || { echo "FAIL: found only $(grep -c '^C|' "$T/items") README commands (parser broken?)"; exit 1; }

status=0
ran=0
checked=0
fail() {
  echo "FAIL README.md:$1: $2"
  status=1
}
# Expected output of the `$` command at line L: the O records that follow it.
expected_of() {
  awk -F'|' -v L="$1" '$1 == "C" { cur = $2 } $1 == "O" && cur == L { sub(/^O\|[0-9]+\|[0-9]+\|\|/, ""); print }' "$T/items"
}
run_item() { # LINE BLOCK SKIP CMD
  local line=$1 block=$2 skip=$3 cmd=$4
  if [[ $cmd == "bash tests/run.sh" ]]; then
    bash -n "$T/w/tests/run.sh" || fail "$line" "tests/run.sh has a syntax error"
    return
  fi
  if [[ -n $skip ]]; then
    if [[ $cmd == clipbench\ * && $cmd != *'$'* && ! $cmd =~ \[|\||\.\.\. ]]; then
      # Only the options are checked: a command that looks at its arguments
      # before --help (merge reads its shard paths) may fail on those here.
      if ! (cd "$T/w" && eval "$cmd --help") > "$T/out" 2> "$T/err" &&
        grep -qE "option|expects|needs a value|must be one of|takes no value" "$T/err"; then
        fail "$line" "(skipped: $skip) its options do not parse: $cmd: $(tail -1 "$T/err")"
      elif grep -q "is deprecated" "$T/err"; then
        fail "$line" "(skipped: $skip) uses a deprecated spelling: $(grep "is deprecated" "$T/err")"
      fi
      checked=$((checked + 1))
    fi
    return
  fi
  if [[ $cmd =~ \[|\.\.\.|\<[a-zA-Z] ]]; then
    fail "$line" "not runnable (a placeholder): $cmd; write a concrete command or put <!-- readme-test: skip REASON --> above the block"
    return
  fi
  cd "$T/w"
  local want
  want=$(expected_of "$line")
  # As in an interactive shell: no pipefail (`... | head -1` is fine).
  set +o pipefail
  eval "$cmd" > "$T/out" 2> "$T/err"
  local rc=$?
  set -o pipefail
  if ((rc != 0)); then
    fail "$line" "exit $rc: $cmd"
    tail -5 "$T/err" | sed 's/^/    /'
  elif grep -q "is deprecated" "$T/err"; then
    fail "$line" "uses a deprecated spelling: $(grep "is deprecated" "$T/err")"
  elif [[ -n $want ]] && [[ $(cat "$T/out") != "$want" ]]; then
    fail "$line" "output differs from the README: $cmd"
    diff <(echo "$want") "$T/out" | sed 's/^/    /'
  fi
  ran=$((ran + 1))
  cd "$T"
}

# Blocks first (in README order, one shell: variables of a block persist),
# then the inline spans.
while IFS='|' read -r -u 3 kind line block skip cmd; do
  [[ $kind == C && $block != 0 ]] && run_item "$line" "$block" "$skip" "$cmd" < /dev/null
done 3< "$T/items"
while IFS='|' read -r -u 3 kind line block skip cmd; do
  [[ $kind == C && $block == 0 ]] && run_item "$line" "$block" "$skip" "$cmd" < /dev/null
done 3< "$T/items"

# The demo without gnuplot: figures skipped with one line, the rest works
# (the sweep is finished by now, so this is quick).
cd "$T/w"
if GNUPLOT=/nonexistent/gnuplot bash sweeps/demo.sh > "$T/out" 2> "$T/err"; then
  [[ $(grep -c "figures" "$T/out") == 1 ]] && grep -q "^figures: skipped, gnuplot is not installed" "$T/out" ||
    { echo "FAIL: the demo without gnuplot: $(grep figures "$T/out")"; status=1; }
else
  echo "FAIL: the demo without gnuplot failed: $(tail -3 "$T/err")"
  status=1
fi
echo "README: $ran commands run, $checked skipped ones checked with --help"
exit $status
