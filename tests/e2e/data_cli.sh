#!/usr/bin/env bash
# clipbench data: synth -> info -> preview on an NPY folder, determinism of
# the written bytes, and one-line errors for bad input.
# Usage: data_cli.sh path/to/clipbench source-dir
set -euo pipefail
CB=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CB" data synth --out "$T/a" --images 12 --size 48 64 --seed 3 >/dev/null
# The old spelling still works, with one deprecation line; folders above
# --out are created (as --db's are).
"$CB" data synth --out "$T/new/sub/b" --count 12 --size 48 64 --seed 3 2>"$T/dep" >/dev/null
grep -qx "clipbench data synth: --count is deprecated, use --images" "$T/dep" || fail "deprecation line: $(cat "$T/dep")"
mv "$T/new/sub/b" "$T/b"
diff -r "$T/a" "$T/b" >/dev/null || fail "same seed wrote different files"
[ "$(ls "$T/a/images" | wc -l)" = 12 ] || fail "expected 12 images"
[ ! -e "$T/a.tmp-"* ] 2>/dev/null || fail "temporary folder left behind"

json=$("$CB" data info "$T/a" --json)
echo "$json" | grep -q '"images":12' || fail "info: $json"
echo "$json" | grep -q '"height":48,"width":64' || fail "info size: $json"
echo "$json" | grep -q '"subjects_known":true' || fail "info subjects: $json"
echo "$json" | grep -q '"name":"fluid"' || fail "info class names: $json"

"$CB" data preview "$T/a" --out "$T/deep/er/p.png" --draw 3 >/dev/null
mv "$T/deep/er/p.png" "$T/p.png"
"$CB" data preview "$T/a" --out "$T/p2.png" --count 3 2>"$T/dep" >/dev/null
grep -qx "clipbench data preview: --count is deprecated, use --draw" "$T/dep" || fail "preview deprecation: $(cat "$T/dep")"
cmp -s "$T/p.png" "$T/p2.png" || fail "preview --count 3 is not --draw 3"
[ "$(head -c 8 "$T/p.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "preview is not a PNG"
"$CB" data preview synthetic --images 20 --size 64 96 --draw 2 --out "$T/s.png" >/dev/null
[ -s "$T/s.png" ] || fail "synthetic preview missing"

# Errors: non-zero exit and one line naming the problem.
expect_err() {
  local want=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
  [ "$(echo "$out" | wc -l)" = 1 ] || fail "error is not one line: $out"
  echo "$out" | grep -q -- "$want" || fail "error lacks '$want': $out"
}
expect_err "already exists" "$CB" data synth --out "$T/a" --images 2 --size 32 32
expect_err "no such dataset" "$CB" data info "$T/missing"
rm "$T/a/masks/$(ls "$T/a/masks" | head -1)"
expect_err "image without a mask" "$CB" data info "$T/a"
expect_err "class id" "$CB" data info "$T/b" --classes 3
mkdir "$T/empty"
expect_err "no Subject_XX.mat" "$CB" data import-duke "$T/empty" --out "$T/duke"
echo "not a mat file, just text padding padding padding padding padding padding padding pad" \
  > "$T/empty/Subject_01.mat"
expect_err "not a MATLAB" "$CB" data import-duke "$T/empty" --out "$T/duke"
[ ! -e "$T/duke" ] || fail "failed import left an output folder"
expect_err "unknown subcommand" "$CB" data frobnicate
echo ok
