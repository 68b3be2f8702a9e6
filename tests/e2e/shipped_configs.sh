#!/usr/bin/env bash
# Every experiment file shipped in experiments/ resolves (the schema accepts
# it) and the study arms carry the study's hyper-parameters.
set -euo pipefail
CB=$1
SRC=$2
n=0
for f in "$SRC"/experiments/*/*.yaml; do
  "$CB" run "$f" --print-config > /dev/null || { echo "does not resolve: $f"; exit 1; }
  n=$((n + 1))
done
[[ $n -ge 16 ]] || { echo "expected the 16 study files, found $n"; exit 1; }
for f in "$SRC"/experiments/study/*.yaml; do
  j=$("$CB" run "$f" --print-config --json)
  for kv in '"batch_size":10' '"lr":0.0005' '"epochs":100' '"weight_decay":0.0001' \
            '"size":[224,224]' '"classes":9'; do
    grep -qF "$kv" <<< "$j" || { echo "$f: missing $kv"; exit 1; }
  done
  if ! grep -q '"clipping":"none"' <<< "$j"; then
    grep -qF '"delta":1e-05' <<< "$j" && grep -qF '"clip_bound":1' <<< "$j" ||
      { echo "$f: delta/clip bound differ from the study"; exit 1; }
  fi
done
# The study's published layout: split by its folders, labels mapped 10 -> 9.
j=$("$CB" run "$SRC/experiments/study/unet_published_data.yaml" --print-config --json)
for kv in '"by":"folders"' '"label_map":"duke_10_to_9"' '"source":"npy"'; do
  grep -qF "$kv" <<< "$j" || { echo "unet_published_data.yaml: missing $kv"; exit 1; }
done
echo "shipped experiment files: ok ($n)"
