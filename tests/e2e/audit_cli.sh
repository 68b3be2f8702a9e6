#!/usr/bin/env bash
# The privacy audit from the command line: an audited run prints and stores
# its lower bound and canaries, status/export/report show it, a lower bound
# above the accountant's epsilon is shown as a PRIVACY BUG, merge carries the
# audit, the figure renders, and audit: mistakes are one clear line.
# Usage: audit_cli.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
CB=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cat > np.yaml <<'YAML'
data: {size: [32, 32], count: 36}
model: {width: 4, depth: 2}
train: {epochs: 2, batch_size: 6, lr: 0.05}
dp: {clipping: none}
audit: {canaries: 400, guesses: 40}
YAML
cat > flat.yaml <<'YAML'
data: {size: [32, 32], count: 36}
model: {width: 4, depth: 2}
train: {epochs: 2, batch_size: 6, lr: 0.05}
dp: {clipping: flat, noise_multiplier: 1.5, accountants: [rdp]}
audit: {canaries: 400, guesses: 40}
YAML

# The run says what the audit found, on stderr and as JSON.
"$CB" run np.yaml --db a.db > np.out 2> np.err
grep -q "audit (gradient canaries): 40 of 40 guesses right, epsilon lower bound" np.err ||
  fail "no audit line: $(cat np.err)"
"$CB" run flat.yaml --db a.db --json --quiet > flat.json
grep -q '"audit":"gradient"' flat.json || fail "no audit JSON line: $(cat flat.json)"
[[ $(sqlite3 a.db "SELECT count(*) FROM audits") -eq 2 ]] || fail "audits rows"
[[ $(sqlite3 a.db "SELECT count(*) FROM audit_canaries") -eq 800 ]] || fail "canary rows"
# The coins are fair and recorded; the guessed ones are the highest scores.
inc=$(sqlite3 a.db "SELECT sum(included) FROM audit_canaries c JOIN runs r ON r.id = c.run_id WHERE r.clipping = 'none'")
(( inc > 160 && inc < 240 )) || fail "$inc of 400 canaries included"
[[ $(sqlite3 a.db "SELECT count(*) FROM audit_canaries g WHERE g.guessed = 1 AND EXISTS (SELECT 1 FROM audit_canaries o
  WHERE o.run_id = g.run_id AND o.guessed = 0 AND o.score > g.score)") -eq 0 ]] || fail "guesses are not the top scores"
# Non-private: no upper bound to break; private: under the accountant's epsilon.
[[ $(sqlite3 a.db "SELECT a.epsilon IS NULL AND a.epsilon_lb > 2 AND a.privacy_bug = 0 FROM audits a JOIN runs r
  ON r.id = a.run_id WHERE r.clipping = 'none'") -eq 1 ]] || fail "non-private audit"
[[ $(sqlite3 a.db "SELECT a.epsilon_lb < a.epsilon AND a.privacy_bug = 0 AND a.accountant = 'rdp' FROM audits a
  JOIN runs r ON r.id = a.run_id WHERE r.clipping = 'flat'") -eq 1 ]] || fail "flat audit"

# status and export show it.
"$CB" status --db a.db > st.txt
[[ $(grep -c "audit: eps >= " st.txt) -eq 2 ]] || fail "status: $(cat st.txt)"
if grep -q "PRIVACY BUG" st.txt; then fail "a sound run flagged"; fi
"$CB" export --db a.db --query audits > audits.tsv
head -1 audits.tsv | grep -q "audit_epsilon_lb" || fail "export audits header"
[[ $(wc -l < audits.tsv) -eq 3 ]] || fail "export audits rows"
"$CB" export --db a.db --query final | head -1 | grep -c "audit_epsilon_lb	privacy_bug$" > /dev/null ||
  fail "final lacks the audit columns"

# A lower bound above the accountant's epsilon is a privacy bug, everywhere.
sqlite3 a.db "UPDATE audits SET epsilon_lb = epsilon + 1, privacy_bug = 1 WHERE epsilon IS NOT NULL"
"$CB" status --db a.db > st2.txt
grep -q "PRIVACY BUG: the audited lower bound exceeds the accountant's epsilon" st2.txt || fail "status: $(cat st2.txt)"
"$CB" status --db a.db --json | grep -c '"privacy_bug":true' > /dev/null || fail "status --json"

# Merge carries the audit with its run.
"$CB" run np.yaml --db shard.db --quiet --set seed=4
"$CB" merge --db a.db shard.db > /dev/null
[[ $(sqlite3 a.db "SELECT count(*) FROM audits") -eq 3 ]] || fail "merge lost the audit"
[[ $(sqlite3 a.db "SELECT count(*) FROM audit_canaries") -eq 1200 ]] || fail "merge lost canaries"

# Figure and report (gnuplot only).
if command -v gnuplot > /dev/null; then
  make --no-print-directory -C "$SRC" -f Makefile.plots DB="$T/a.db" OUT="$T/out" CLIPBENCH="$CB" FORMATS=png > make.log
  [[ -s out/audit_unet.png ]] || fail "no audit figure: $(ls out)"
  grep -q "privacy_bugs" out/data/audit_unet.tsv || fail "figure data"
  "$CB" report --db a.db --out rep --quiet > /dev/null
  grep -q "<h2>Privacy audit</h2>" rep/index.html || fail "report lacks the audit section"
  grep -q "PRIVACY BUG: 1 run with an audited lower bound" rep/index.html || fail "report: bug"
  grep -q "color:#c00" rep/index.html || fail "report: bug not in red"
  grep -q "## Privacy audit" rep/report.md || fail "report.md"
fi

# Mistakes.
if "$CB" run np.yaml --set audit.guesses=500 --print-config 2> err; then fail "guesses > canaries"; fi
grep -q "audit.guesses: 500 guesses among 400 canaries" err || fail "$(cat err)"
if "$CB" run np.yaml --set audit.canaries=0 --print-config 2> err; then fail "guesses without canaries"; fi
grep -q "audit.guesses applies only when audit.canaries > 0" err || fail "$(cat err)"
if "$CB" run np.yaml --set train.sampling=shuffle --print-config 2> err; then fail "shuffle audit"; fi
grep -q "set train.sampling: poisson" err || fail "$(cat err)"
if "$CB" run np.yaml --set audit.kind=output --print-config 2> err; then fail "bad kind"; fi
grep -q "gradient|input" err || fail "$(cat err)"
# A configuration without audit keeps the id it had before audits existed.
sed '/^audit:/d' flat.yaml > plain.yaml
{ cat plain.yaml; echo "audit: {canaries: 0}"; } > zero.yaml
id0=$("$CB" run zero.yaml --print-config --json | sed 's/^{"run_id":"\([0-9a-f]*\)".*/\1/')
id1=$("$CB" run plain.yaml --print-config --json | sed 's/^{"run_id":"\([0-9a-f]*\)".*/\1/')
[[ ${#id0} -eq 16 && $id0 == "$id1" ]] || fail "audit.canaries 0 changed the id ($id0 vs $id1)"
echo "privacy audit from the command line: ok"
