#!/usr/bin/env bash
# clipbench run --print-config / --set and clipbench export from the command
# line: resolved configs reload to the same run id, mistakes exit non-zero
# with file:line:col, export writes files atomically in every format.
# Usage: config_export.sh PATH-TO-CLIPBENCH SOURCE-DIR
set -euo pipefail
CB=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cat >"$T/exp.yaml" <<'YAML'
seed: 7
model: {arch: nested_unet, width: 8, depth: 2}
data: {size: [64, 64], count: 30}
dp:
  clipping: per_layer
  noise_multiplier: 0.5
YAML
"$CB" run "$T/exp.yaml" --print-config >"$T/resolved.yaml"
"$CB" run "$T/resolved.yaml" --print-config >"$T/again.yaml"
id1=$(head -1 "$T/resolved.yaml" | awk '{print $NF}')
id2=$(head -1 "$T/again.yaml" | awk '{print $NF}')
[[ ${#id1} -eq 16 && "$id1" == "$id2" ]] || fail "print-config round trip: $id1 vs $id2"
grep -q '^  groups: 8 ' "$T/resolved.yaml" || fail "nested_unet groups not resolved to 8"
# --set changes the id, and the JSON form carries it.
id3=$("$CB" run "$T/exp.yaml" --set dp.noise_multiplier=0.7 --print-config --json |
  sed 's/^{"run_id":"\([0-9a-f]*\)".*/\1/')
[[ ${#id3} -eq 16 && "$id3" != "$id1" ]] || fail "--set did not change the id ($id3)"
# Mistakes: exit status and one line naming the place.
printf 'dp:\n  clip_bond: 1\n' >"$T/bad.yaml"
if "$CB" run "$T/bad.yaml" --print-config 2>"$T/err"; then fail "bad.yaml accepted"; fi
grep -q "^clipbench run: error: $T/bad.yaml:2:3: unknown key 'dp.clip_bond'" "$T/err" ||
  fail "unexpected error: $(cat "$T/err")"
if "$CB" run "$T/exp.yaml" --set train.lr=fast --print-config 2>"$T/err"; then
  fail "lr=fast accepted"
fi
grep -q "error: --set train.lr=fast: train.lr: not a number" "$T/err" || fail "$(cat "$T/err")"
"$CB" run --schema >"$T/schema.md"
grep -q '^| `dp.clipping` | `none` |' "$T/schema.md" || fail "schema table"

# Export from the version 1 fixture.
sqlite3 "$T/r.db" <"$SRC/tests/fixtures/store_v1.sql"
"$CB" export --db "$T/r.db" --query final --format csv --out "$T/final.csv"
[[ $(wc -l <"$T/final.csv") -eq 2 ]] || fail "final.csv: $(cat "$T/final.csv")"
if ls "$T" | grep -q 'tmp'; then fail "temporary file left behind"; fi
n=$("$CB" export --db "$T/r.db" --json --query runs | grep -c '^{"run_id":')
[[ $n -eq 2 ]] || fail "json runs: $n"
"$CB" export --db "$T/r.db" >"$T/epochs.tsv"
head -1 "$T/epochs.tsv" | grep -q '^run_id	label	arch' || fail "tsv header"
"$CB" export --db "$T/r.db" --group label >"$T/grouped.tsv"
head -1 "$T/grouped.tsv" | grep -q '^run_id	unet/flat/sigma=0.5/C=1	arch' || fail "group header"
if command -v gnuplot >/dev/null; then
  # gnuplot reads columns by name, and the README's plot names curves by label.
  gnuplot -e "set datafile separator '\t'; set print '$T/gp.txt'; stats '$T/epochs.tsv' using 'epoch':'train_loss' nooutput; print STATS_records" 2>/dev/null
  [[ $(cat "$T/gp.txt") == 2 ]] || fail "gnuplot read $(cat "$T/gp.txt") records"
  gnuplot -e "set datafile separator '\t'; set table '$T/tab.txt'; plot for [i=0:*] '$T/grouped.tsv' index i using 'epoch':'train_loss' with lines title columnhead(2)" 2>/dev/null
  grep -q 'Curve title: "unet/flat/sigma=0.5/C=1"' "$T/tab.txt" || fail "gnuplot title: $(cat "$T/tab.txt")"
fi
if "$CB" export --db "$T/missing.db" 2>"$T/err"; then fail "missing db accepted"; fi
grep -q "missing.db: no such database" "$T/err" || fail "$(cat "$T/err")"
"$CB" export --help >"$T/help.txt"
grep -q '^  layer_norms ' "$T/help.txt" || fail "named queries in --help"
echo "ok"
