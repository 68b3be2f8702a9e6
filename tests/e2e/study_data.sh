#!/usr/bin/env bash
# The study's published data layout through the CLI: `data info` / `data
# preview` on a folder of train/ val/ test/ folders (tests/fixtures/
# study_layout, written by numpy), the label map, one-line errors, and a run
# on it with the as-published data switches recorded in the stored config.
# Usage: study_data.sh path/to/clipbench source-dir
set -euo pipefail
CB=$1
SRC=$2
D=$SRC/tests/fixtures/study_layout/DukeData
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

json=$("$CB" data info "$D" --size 6 8 --label-map duke_10_to_9 --classes 9 --json)
for kv in '"images":6' '"classes":9' '"subjects_known":true' '"label_map":"8->0, 9->8"' \
  '{"split":"train","images":3,"subjects":[1,2]}' '{"split":"val","images":1,"subjects":[3]}' \
  '{"split":"test","images":2,"subjects":[4]}' '"name":"fluid"'; do
  grep -qF "$kv" <<< "$json" || fail "info lacks $kv: $json"
done
text=$("$CB" data info "$D" --size 6 8 --label-map duke_10_to_9 --classes 9)
grep -qF "split folders: train 3 images (subjects 1,2), val 1 images (subject 3), test 2 images (subject 4)" <<< "$text" ||
  fail "info text: $text"
grep -qF "labels mapped: 8->0, 9->8" <<< "$text" || fail "info text: $text"
# As stored, the masks hold 10 labels.
"$CB" data info "$D" --size 6 8 --json | grep -cF '"classes":10' > /dev/null || fail "stored labels are 0..9"
"$CB" data preview "$D" --size 12 16 --label-map duke_10_to_9 --mask-resize bilinear_round \
  --out "$T/p.png" --count 3 > /dev/null
[ "$(head -c 8 "$T/p.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "preview is not a PNG"

expect_err() {
  local want=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
  [ "$(echo "$out" | wc -l)" = 1 ] || fail "error is not one line: $out"
  grep -qF -- "$want" <<< "$out" || fail "error lacks '$want': $out"
}
expect_err "Subject_01_00.npy: class id 9 at row 2, column 6, but the dataset has 9 classes" \
  "$CB" data info "$D" --size 6 8 --classes 9
expect_err "label map 'eight:zero'" "$CB" data info "$D" --size 6 8 --label-map eight:zero
expect_err "images differ in size" "$CB" data info "$D"
expect_err "nearest|bilinear_round" "$CB" data info "$D" --mask-resize cubic

# A run on the layout: the split comes from the folders (auto), and the
# as-published data switches end up in runs.config.
cat > "$T/exp.yaml" <<YAML
name: published_layout
backend: cpu
data: {source: npy, path: "$D", size: [8, 8], label_map: duke_10_to_9, mask_resize: bilinear_round,
       normalise: fixed}
model: {width: 2, depth: 1, groups: 1}
train: {epochs: 1, batch_size: 2}
metrics: {dice: per_image}
YAML
"$CB" run "$T/exp.yaml" --db "$T/r.db" --quiet
cfg=$(sqlite3 "$T/r.db" "SELECT config FROM runs")
for kv in '"by":"folders"' '"label_map":"duke_10_to_9"' '"mask_resize":"bilinear_round"' \
  '"normalise":"fixed"' '"normalise_mean":46.3758' '"metrics":{"dice":"per_image"}'; do
  grep -qF "$kv" <<< "$cfg" || fail "runs.config lacks $kv: $cfg"
done
dice=$(sqlite3 "$T/r.db" "SELECT val_dice FROM epochs")
awk -v d="$dice" 'BEGIN { exit !(d > 0 && d <= 2) }' || fail "per-image Dice $dice outside (0, 2]"
# The same run with our Dice is another run (another id).
"$CB" run "$T/exp.yaml" --db "$T/r.db" --quiet --set metrics.dice=pooled
[ "$(sqlite3 "$T/r.db" "SELECT count(DISTINCT id) FROM runs")" = 2 ] || fail "metrics.dice did not make a new run"
echo ok
