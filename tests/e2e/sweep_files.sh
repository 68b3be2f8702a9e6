#!/usr/bin/env bash
# The sweep files shipped in sweeps/ expand to the runs their comments promise,
# and the clipping study's runs are exactly the study's experiment files
# (experiments/study/<arch>_<arm>.yaml at each noise multiplier: same run ids),
# so results of `clipbench run` on those files and of the sweep are one and
# the same. Usage: sweep_files.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
SRC=$2
fail() { echo "FAIL: $*"; exit 1; }
count() { "$CB" sweep "$SRC/sweeps/$1.yaml" --dry-run --json --db /nonexistent/x.db | grep -c '"run_id"'; }
[[ $(count smoke) -eq 22 ]] || fail "smoke.yaml: expected 22 runs"
[[ $(count clip_bound) -eq 24 ]] || fail "clip_bound.yaml: expected 24 runs"
[[ $(count clipping_study) -eq 26 ]] || fail "clipping_study.yaml: expected 26 runs"
[[ $(count clipping_study_synthetic) -eq 26 ]] || fail "clipping_study_synthetic.yaml: expected 26 runs"

study=$("$CB" sweep "$SRC/sweeps/clipping_study.yaml" --dry-run --json --db /nonexistent/x.db)
n=0
for arch in unet nested_unet; do
  for arm in nonprivate per_layer automatic random_sparsification; do
    sigmas="0.3 0.5 0.7 1.0"
    [[ $arm == nonprivate ]] && sigmas="-"
    for s in $sigmas; do
      set_args=()
      [[ $s != - ]] && set_args=(--set "dp.noise_multiplier=$s")
      id=$("$CB" run "$SRC/experiments/study/${arch}_$arm.yaml" "${set_args[@]}" --print-config --json |
        sed -n 's/^{"run_id":"\([0-9a-f]*\)".*/\1/p')
      [[ -n $id ]] || fail "no id for ${arch}_$arm"
      grep -q "\"run_id\":\"$id\"" <<< "$study" || fail "${arch}_$arm sigma $s ($id) is not a run of clipping_study.yaml"
      n=$((n + 1))
    done
  done
done
[[ $n -eq 26 ]] || fail "compared $n runs"
# The synthetic study is the same grid: same points, other data.
syn=$("$CB" sweep "$SRC/sweeps/clipping_study_synthetic.yaml" --dry-run --json --db /nonexistent/x.db)
[[ $(grep -o '"point":{[^}]*}' <<< "$study") == $(grep -o '"point":{[^}]*}' <<< "$syn") ]] ||
  fail "the synthetic study's grid differs from the paper-scale one"
# The study as published and corrected (issue 14): the counts their comments
# promise, data.path overridable, and each as-published arm is the base file
# with the documented switches (same run id), so the switches are really set.
D=(--set data.path=/nonexistent/DukeData)
pub=$("$CB" sweep "$SRC/sweeps/study_as_published.yaml" --dry-run --json --db /nonexistent/x.db "${D[@]}")
[[ $(grep -c '"run_id"' <<< "$pub") -eq 18 ]] || fail "study_as_published.yaml: expected 18 runs"
[[ $("$CB" sweep "$SRC/sweeps/study_corrected.yaml" --dry-run --json --db /nonexistent/x.db "${D[@]}" |
  grep -c '"run_id"') -eq 136 ]] || fail "study_corrected.yaml: expected 136 runs"
# The study at this CPU's scale (issue 17): the counts their comments promise, and
# the as-published runs of seed 7 (the base file's) are exactly study_as_published's
# U-Net runs at 64 px, width 8.
cnt() { "$CB" sweep "$SRC/sweeps/$1.yaml" --dry-run --json --db /nonexistent/x.db "${D[@]}" | grep -c '"run_id"'; }
[[ $(cnt study_cpu_as_published) -eq 27 ]] || fail "study_cpu_as_published.yaml: expected 27 runs"
[[ $(cnt study_cpu_corrected) -eq 102 ]] || fail "study_cpu_corrected.yaml: expected 102 runs"
[[ $(cnt study_cpu_lr) -eq 15 ]] || fail "study_cpu_lr.yaml: expected 15 runs"
[[ $(cnt study_paper_unet) -eq 3 ]] || fail "study_paper_unet.yaml: expected 3 runs"
small=$("$CB" sweep "$SRC/sweeps/study_as_published.yaml" --dry-run --json --db /nonexistent/x.db "${D[@]}" \
  --set 'data.size=[64, 64]' --set model.width=8)
for id in $("$CB" sweep "$SRC/sweeps/study_cpu_as_published.yaml" --dry-run --json --db /nonexistent/x.db "${D[@]}" |
  grep '"seed":7}' | sed -n 's/.*"run_id":"\([0-9a-f]*\)".*/\1/p'); do
  grep -q "\"run_id\":\"$id\"" <<< "$small" || fail "study_cpu_as_published run $id is not study_as_published at 64 px, width 8"
done
P=(--set data.normalise=fixed --set data.mask_resize=bilinear_round --set metrics.dice=per_image
  --set train.sampling=shuffle --set loss.reduction=batch --set loss.dice_smooth=1e-4
  --set dp.sample_rate=opacus --set dp.noise_multiplier=0.5 --set 'dp.accountants=[prv, rdp, gdp]')
for arm in "dp.clipping=automatic|dp.automatic.scope=per_layer" \
  "dp.clipping=random_sparsification|dp.sparsification.refresh=2|dp.sparsification.as_published=true"; do
  IFS='|' read -r -a kv <<< "$arm"
  a=()
  for x in "${kv[@]}"; do a+=(--set "$x"); done
  j=$("$CB" run "$SRC/experiments/study/unet_published_data.yaml" "${D[@]}" "${P[@]}" "${a[@]}" \
    --print-config --json)
  id=$(sed -n 's/^{"run_id":"\([0-9a-f]*\)".*/\1/p' <<< "$j")
  grep -q "\"run_id\":\"$id\"" <<< "$pub" || fail "as published ($arm) is not a run of study_as_published.yaml"
  for k in '"sampling":"shuffle"' '"sample_rate":"opacus"' '"reduction":"batch"' '"softmax_input":true'; do
    grep -qF "$k" <<< "$j" || fail "as published ($arm): missing $k"
  done
done
# The README's example sweep file is valid (its paths made absolute).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
sed -n '/^### Sweep files/,/^```$/p' "$SRC/README.md" | sed -n '/^```yaml/,/^```$/p' | sed '1d;$d' |
  sed "s#\.\./experiments#$SRC/experiments#g" > "$T/example.yaml"
grep -q '^grid:' "$T/example.yaml" || fail "no example in the README"
"$CB" sweep "$T/example.yaml" --dry-run --db "$T/none.db" > "$T/example.txt" || fail "the README's example does not load"
tail -1 "$T/example.txt" | grep -q 'share a run' || fail "the README's example should show collapsing"
echo "shipped sweep files: ok"
