#!/usr/bin/env bash
# .ci/install-deps by role: the one line an ordinary user gets (exactly the
# missing packages of what they asked for, Debian/Ubuntu and Fedora names),
# required versus optional packages, and the same check run for real as an
# unprivileged user (nobody, via setpriv) against this machine's package
# database and against a package list that lacks things.
# Usage: deps_check.sh CLIPBENCH SOURCE_DIR
set -euo pipefail
SRC=$2
T=$(mktemp -d)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cp "$SRC/.ci/install-deps" "$T/install-deps"
chmod 755 "$T/install-deps"
deps() { CB_DEPS_AS_USER=1 bash "$T/install-deps" "$@"; }

BUILD="build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev libyaml-dev libsqlite3-dev libfftw3-dev libmatio-dev zlib1g-dev"
printf '%s\n' $BUILD git > "$T/build.list"
printf '%s\n' $BUILD git libcmocka-dev clang-format sqlite3 gnuplot-nox slurm-wlm munge > "$T/all.list"
grep -vx -e libfftw3-dev -e libmatio-dev "$T/build.list" > "$T/nofftw.list"

# Everything there: silent, exit 0, for every role.
for role in build demo test ci; do
  out=$(CB_DEPS_INSTALLED=$T/all.list deps --check $role 2>&1) || fail "$role with everything installed: $out"
  [[ -z $out ]] || fail "$role with everything installed printed: $out"
done

# Two build packages missing: one line, exactly those two, both distributions.
if out=$(CB_DEPS_INSTALLED=$T/nofftw.list deps demo 2>&1); then fail "demo without FFTW passed"; fi
[[ $(wc -l <<< "$out") == 1 ]] || fail "not one line: $out"
want="clipbench: missing packages for the demo: libfftw3-dev libmatio-dev (Debian/Ubuntu: sudo apt-get install libfftw3-dev libmatio-dev; Fedora: sudo dnf install fftw-devel matio-devel)"
[[ $out == "$want" ]] || fail "demo line: $out"

# Build packages only: building and the demo work (gnuplot is optional for the
# demo, one note line, none with --quiet); the tests need cmocka and co.
CB_DEPS_INSTALLED=$T/build.list deps build > "$T/o" 2>&1 || fail "build: $(cat "$T/o")"
[[ ! -s $T/o ]] || fail "build printed: $(cat "$T/o")"
CB_DEPS_INSTALLED=$T/build.list deps demo > "$T/o" 2>&1 || fail "demo: $(cat "$T/o")"
[[ $(wc -l < "$T/o") == 1 ]] && grep -q "optional for the demo, not installed: gnuplot-nox: figures are skipped" "$T/o" ||
  fail "demo note: $(cat "$T/o")"
CB_DEPS_INSTALLED=$T/build.list deps --quiet demo > "$T/o" 2>&1 || fail "demo --quiet"
[[ ! -s $T/o ]] || fail "demo --quiet printed: $(cat "$T/o")"
if out=$(CB_DEPS_INSTALLED=$T/build.list deps test 2>&1); then fail "test without cmocka passed"; fi
[[ $out == "clipbench: missing packages for the tests: libcmocka-dev clang-format sqlite3 (Debian/Ubuntu: sudo apt-get install libcmocka-dev clang-format sqlite3; Fedora: sudo dnf install libcmocka-devel clang-tools-extra sqlite)" ]] ||
  fail "test line: $out"
# The tests without SLURM: they run (its test SKIPs); CI requires SLURM.
grep -vx -e slurm-wlm -e munge "$T/all.list" > "$T/noslurm.list"
CB_DEPS_INSTALLED=$T/noslurm.list deps test > "$T/o" 2>&1 || fail "test without SLURM failed: $(cat "$T/o")"
grep -q "slurm-wlm: the SLURM cluster test SKIPs.*apt-get install slurm-wlm munge;" "$T/o" || fail "SLURM note: $(cat "$T/o")"
if out=$(CB_DEPS_INSTALLED=$T/noslurm.list deps ci 2>&1); then fail "ci without SLURM passed"; fi
grep -q "missing packages for CI: slurm-wlm munge " <<< "$out" || fail "ci line: $out"
if deps frobnicate > /dev/null 2>&1; then fail "unknown role accepted"; fi

# For real as an unprivileged user (root can switch to nobody): the check
# never tries to install, and tells the same line.
if [[ $(id -u) -eq 0 ]] && command -v setpriv > /dev/null && id nobody > /dev/null 2>&1; then
  chmod 644 "$T"/*.list
  as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env -u CB_DEPS_AS_USER "$@"; }
  [[ $(as_nobody id -u) != 0 ]] || fail "setpriv did not drop root"
  if out=$(as_nobody env CB_DEPS_INSTALLED="$T/nofftw.list" bash "$T/install-deps" demo 2>&1); then
    fail "nobody: demo without FFTW passed"
  fi
  [[ $out == "$want" ]] || fail "nobody: $out"
  # This machine's own packages (dpkg/rpm): CI installed all of them.
  if command -v dpkg-query > /dev/null; then
    as_nobody bash "$T/install-deps" --check ci > "$T/o" 2>&1 || fail "nobody, real package database: $(cat "$T/o")"
  fi
  echo "checked as nobody (uid $(id -u nobody))"
else
  echo "not root: the unprivileged run is this one"
fi
echo "ok"
