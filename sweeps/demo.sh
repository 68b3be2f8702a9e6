#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing (as root), builds
# clipbench, runs the smoke sweep on the built-in synthetic OCT data into
# results/demo.db and renders the figures into plots/out.
# Usage: bash sweeps/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS" >/dev/null
CB=$PWD/build/clipbench
if [[ -f sweeps/smoke.yaml ]] && "$CB" sweep --help >/dev/null 2>&1; then
  "$CB" sweep sweeps/smoke.yaml --db results/demo.db --jobs 2
  if [[ -f Makefile.plots ]]; then
    make -f Makefile.plots DB=results/demo.db OUT=plots/out CLIPBENCH="$CB"
    echo "figures: plots/out"
  fi
else
  "$CB" run experiments/synthetic/unet_nonprivate.yaml --db results/demo.db
fi
"$CB" export --db results/demo.db --query final
