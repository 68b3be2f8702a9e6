#!/usr/bin/env bash
# clipbench epsilon / sigma end to end: values, JSON shape, labels, errors.
# Usage: privacy_cli.sh path/to/clipbench source-dir
set -euo pipefail
CB=$1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# field NAME LINE: the raw JSON value of "NAME" in a one-line object.
field() { sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"$2"; }
# near GOT WANT TOL
near() { awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= t) }'; }
check_num() { # what line field want tol
  local v
  v=$(field "$3" "$2")
  near "$v" "$4" "$5" || fail "$1: $3 = '$v', expected $4 (+-$5)"
}
check_str() { # what line field want
  local v
  v=$(field "$3" "$2")
  [[ $v == "$4" ]] || fail "$1: $3 = $v, expected $4"
}

# --- values (reference/accounting.md rows 1, 5.3, 5.4) ---
out=$("$CB" epsilon --sample-rate 0.04 --sigma 1.5 --epochs 90 --delta 1e-5 --accountant rdp --json)
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "rdp --json: expected one line, got: $out"
check_num "rdp row 1" "$out" epsilon 7.3291111714387 1e-9
check_num "rdp row 1" "$out" alpha 3.9 0
check_num "rdp row 1" "$out" steps 2250 0
check_str "rdp row 1" "$out" accountant '"rdp"'
check_str "rdp row 1" "$out" guarantee true

out=$("$CB" epsilon --sample-rate 0.04 --sigma 1.5 --steps 2249 --delta 1e-5 --json)
[[ $(wc -l <<<"$out") -eq 4 ]] || fail "--accountant all: expected 4 lines, got: $out"
rdp=$(grep '"requested":"rdp"' <<<"$out")
prv=$(grep '"requested":"prv"' <<<"$out")
gdp=$(grep '"requested":"gdp"' <<<"$out")
pld=$(grep '"requested":"pld"' <<<"$out")
check_num "all/rdp" "$rdp" epsilon 7.3272780 1e-7
check_num "all/prv" "$prv" epsilon 6.777395712150674 5e-5
check_str "all/prv" "$prv" accountant '"prv"'
check_str "all/prv" "$prv" alpha null
check_num "all/gdp" "$gdp" epsilon 6.5998208 1e-7
check_str "all/gdp" "$gdp" guarantee false
check_str "all/gdp" "$gdp" kind '"approximation"'
# dp_accounting 0.6 PLDAccountant, value_discretization_interval 1e-4
check_num "all/pld" "$pld" epsilon 6.767051086839451 5e-6
check_str "all/pld" "$pld" accountant '"pld"'
check_str "all/pld" "$pld" guarantee true
check_str "all/pld" "$pld" kind '"upper_bound"'
for l in "$rdp" "$prv" "$gdp" "$pld"; do
  for k in accountant epsilon delta alpha; do
    [[ $l == *"\"$k\":"* ]] || fail "JSON line lacks $k: $l"
  done
done

human=$("$CB" epsilon --sample-rate 0.04 --sigma 1.5 --steps 2249 --delta 1e-5)
grep -q '^gdp .*APPROXIMATION.*not a guarantee' <<<"$human" || fail "human gdp line not labelled: $human"
grep -q '^rdp .*7\.32728.*alpha = 3' <<<"$human" || fail "human rdp line: $human"

# B and N: q = B/N by default (what clipbench run uses), Opacus's
# q = 1/len(loader) with --sample-rate-rule opacus; E epochs are E * ceil(N/B)
# steps under both rules, as in clipbench run.
out=$("$CB" epsilon --batch-size 256 --dataset-size 60000 --sigma 1.1 --epochs 15 --delta 1e-5 \
  --accountant rdp --json)
check_num "batch/dataset" "$out" steps 3525 0
check_num "batch/dataset" "$out" sample_rate 0.0042666666666666667 1e-17
out=$("$CB" epsilon --batch-size 256 --dataset-size 60000 --sigma 1.1 --epochs 15 --delta 1e-5 \
  --accountant rdp --sample-rate-rule opacus --json)
check_num "batch/dataset opacus" "$out" steps 3525 0
check_num "batch/dataset opacus" "$out" sample_rate 0.00425531914893617 1e-17
out=$("$CB" sigma --batch-size 10 --dataset-size 66 --epochs 100 --target-epsilon 8 --delta 1e-5 \
  --accountant rdp --json)
check_num "sigma batch/dataset" "$out" sample_rate 0.15151515151515152 1e-17
check_num "sigma batch/dataset" "$out" steps 700 0

# PRV that cannot be computed says so and reports RDP
out=$("$CB" epsilon --sample-rate 0.01 --sigma 0 --steps 10 --delta 1e-5 --accountant prv --json)
check_str "prv fallback" "$out" requested '"prv"'
check_str "prv fallback" "$out" accountant '"rdp"'
check_str "prv fallback" "$out" epsilon null
[[ $out == *"PRV not computable"* ]] || fail "prv fallback note: $out"
out=$("$CB" epsilon --sample-rate 0.01 --sigma 0 --steps 10 --delta 1e-5 --accountant pld --json)
check_str "pld fallback" "$out" requested '"pld"'
check_str "pld fallback" "$out" accountant '"rdp"'
[[ $out == *"PLD not computable"* ]] || fail "pld fallback note: $out"

# --time
out=$("$CB" epsilon --sample-rate 0.01 --sigma 1 --steps 100 --delta 1e-5 --accountant rdp --json --time)
[[ $out == *'"seconds":'* ]] || fail "--time adds seconds: $out"

# --- sigma ---
out=$("$CB" sigma --target-epsilon 8 --sample-rate 0.04 --epochs 90 --delta 1e-5 --json)
[[ $(wc -l <<<"$out") -eq 4 ]] || fail "sigma all: expected 4 lines"
check_num "sigma rdp" "$(grep '"requested":"rdp"' <<<"$out")" sigma 1.416015625 0
check_num "sigma prv" "$(grep '"requested":"prv"' <<<"$out")" sigma 1.34765625 0
check_num "sigma gdp" "$(grep '"requested":"gdp"' <<<"$out")" sigma 1.3232421875 0
# PLD is tighter than PRV's upper bound: it needs no more noise.
s_pld=$(field sigma "$(grep '"requested":"pld"' <<<"$out")")
awk -v s="$s_pld" 'BEGIN { exit !(s > 1.3 && s <= 1.34765625) }' || fail "sigma pld $s_pld"
while read -r l; do
  e=$(field epsilon "$l")
  awk -v e="$e" 'BEGIN { exit !(e <= 8 && e > 7.99) }' || fail "sigma epsilon $e not in (7.99, 8]"
done <<<"$out"
"$CB" sigma --target-epsilon 8 --sample-rate 0.04 --steps 2000 --delta 1e-5 --accountant rdp |
  grep -c '^rdp  *1\.356201172' > /dev/null || fail "sigma human output (steps 2000)"

# --- help documents the step rule ---
"$CB" epsilon --help | grep -c 'ceil(E/q)' > /dev/null || fail "epsilon --help lacks the step rule"
"$CB" sigma --help | grep -c '1/ceil(N/B)' > /dev/null || fail "sigma --help lacks the sampling rule"
"$CB" sigma --help | grep -c 'q = B/N' > /dev/null || fail "sigma --help lacks the default sampling rule"
"$CB" --help | grep -c '^  epsilon' > /dev/null || fail "epsilon not in the command list"
"$CB" --help | grep -c '^  sigma' > /dev/null || fail "sigma not in the command list"

# --- bad input: one line on stderr, non-zero exit ---
expect_error() { # pattern args...
  local pat=$1 err rc=0
  shift
  err=$("$CB" "$@" 2>&1 >/dev/null) || rc=$?
  if [[ $rc -eq 0 ]]; then
    fail "accepted: $*"
    return
  fi
  [[ $(wc -l <<<"$err") -eq 1 ]] || fail "not one line for '$*': $err"
  [[ $err == "clipbench $1: error: "* ]] || fail "error prefix for '$*': $err"
  grep -q -- "$pat" <<<"$err" || fail "message for '$*' lacks '$pat': $err"
}
E=(--sigma 1 --steps 10 --delta 1e-5)
expect_error 'sample-rate must be in (0, 1]' epsilon --sample-rate 0 "${E[@]}"
expect_error 'sample-rate must be in (0, 1]' epsilon --sample-rate 1.5 "${E[@]}"
expect_error 'sample-rate must be in (0, 1]' epsilon --sample-rate -0.1 "${E[@]}"
expect_error 'sample-rate must be in (0, 1]' epsilon --sample-rate nan "${E[@]}"
expect_error 'sigma must be' epsilon --sample-rate 0.1 --sigma -1 --steps 10 --delta 1e-5
expect_error 'delta must be in (0, 1)' epsilon --sample-rate 0.1 --sigma 1 --steps 10 --delta 0
expect_error 'delta must be in (0, 1)' epsilon --sample-rate 0.1 --sigma 1 --steps 10 --delta 1
expect_error 'delta must be in (0, 1)' epsilon --sample-rate 0.1 --sigma 1 --steps 10 --delta 2
expect_error 'steps must be a positive' epsilon --sample-rate 0.1 --sigma 1 --steps 0 --delta 1e-5
expect_error 'epochs must be a positive' epsilon --sample-rate 0.1 --sigma 1 --epochs 0 --delta 1e-5
expect_error 'missing --sigma' epsilon --sample-rate 0.1 --steps 10 --delta 1e-5
expect_error 'missing --delta' epsilon --sample-rate 0.1 --sigma 1 --steps 10
expect_error 'missing sampling rate' epsilon --sigma 1 --steps 10 --delta 1e-5
expect_error 'missing length' epsilon --sample-rate 0.1 --sigma 1 --delta 1e-5
expect_error 'not both' epsilon --sample-rate 0.1 --sigma 1 --steps 10 --epochs 2 --delta 1e-5
expect_error 'not both' epsilon --sample-rate 0.1 --batch-size 10 --dataset-size 100 "${E[@]}"
expect_error 'needs --dataset-size' epsilon --batch-size 10 "${E[@]}"
expect_error 'sample-rate-rule applies to' epsilon --sample-rate 0.1 --sample-rate-rule opacus "${E[@]}"
expect_error 'drop --steps' epsilon --run 0123456789abcdef "${E[@]}"
expect_error 'goes with --run' epsilon --db x.db --sample-rate 0.1 "${E[@]}"
expect_error 'batch-size must be positive' epsilon --batch-size 0 --dataset-size 100 "${E[@]}"
expect_error 'must be one of rdp|prv|gdp|pld|all' epsilon --sample-rate 0.1 "${E[@]}" --accountant moments
expect_error 'expects an integer' epsilon --sample-rate 0.1 --sigma 1 --steps ten --delta 1e-5
expect_error 'missing --target-epsilon' sigma --sample-rate 0.1 --steps 10 --delta 1e-5
expect_error 'target-epsilon must be a positive' sigma --target-epsilon -2 --sample-rate 0.1 --steps 10 --delta 1e-5
expect_error 'out of reach' sigma --target-epsilon 1e-9 --sample-rate 0.1 --steps 10 --delta 1e-5 --accountant rdp
expect_error 'sample-rate must be in (0, 1]' sigma --target-epsilon 1 --sample-rate 2 --steps 10 --delta 1e-5

if ((fails)); then
  echo "$fails check(s) failed" >&2
  exit 1
fi
echo "privacy CLI: all checks passed"
