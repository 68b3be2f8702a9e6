#!/usr/bin/env bash
# Every C, header and CUDA file in git is as clang-format (repo .clang-format)
# writes it. Fix with: git ls-files '*.c' '*.h' '*.cu' | xargs clang-format -i
# Skips (77) without clang-format or outside a git checkout.
set -uo pipefail
src=${1:?usage: format_check.sh SOURCE_DIR}
cd "$src" || exit 1
command -v clang-format > /dev/null || { echo "SKIPPED: clang-format is not installed"; exit 77; }
git rev-parse --is-inside-work-tree > /dev/null 2>&1 || { echo "SKIPPED: not a git checkout"; exit 77; }
bad=$(git ls-files -z '*.c' '*.h' '*.cu' '*.cuh' |
  xargs -0 -n 50 clang-format --dry-run 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*: warning' | cut -d: -f1 | sort -u)
if [ -n "$bad" ]; then
  echo "not clang-formatted ($(clang-format --version | head -1)):"
  echo "$bad" | sed 's/^/  /'
  echo "fix: clang-format -i $(echo $bad)"
  exit 1
fi
echo "format: $(git ls-files '*.c' '*.h' '*.cu' '*.cuh' | wc -l) files clang-formatted"
