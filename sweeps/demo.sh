#!/usr/bin/env bash
# The main job on a fresh machine: checks the packages the demo needs
# (installs them when run as root), builds clipbench, runs the smoke sweep on
# the built-in synthetic OCT data into results/demo.db and renders the
# figures into plots/out (skipped with one line when gnuplot is missing).
# Usage: bash sweeps/demo.sh
#   CLIPBENCH=path/to/clipbench bash sweeps/demo.sh   uses that binary (no build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z ${CLIPBENCH:-} ]]; then
  bash .ci/install-deps --quiet demo
  JOBS=${JOBS:-$(nproc)}
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j "$JOBS" > /dev/null
  CLIPBENCH=$PWD/build/clipbench
fi
CB=$CLIPBENCH
"$CB" sweep sweeps/smoke.yaml --db results/demo.db --jobs 2
if command -v "${GNUPLOT:-gnuplot}" > /dev/null 2>&1; then
  make -f Makefile.plots DB=results/demo.db OUT=plots/out CLIPBENCH="$CB"
  echo "figures: plots/out"
else
  echo "figures: skipped, gnuplot is not installed (Debian/Ubuntu: sudo apt-get install gnuplot-nox; Fedora: sudo dnf install gnuplot)"
fi
"$CB" export --db results/demo.db --query final
