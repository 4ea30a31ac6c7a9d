#!/usr/bin/env bash
# CLI start-up, side by side with Node itself: `node -e 0`, `wgpt --version` and `wgpt --help`, run in turn N
# times (default 10); prints the median of each in milliseconds. Usage: bash scripts/startup-time.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
now() { date +%s%N; }
node_ms=(); version_ms=(); help_ms=()
for _ in $(seq "$runs"); do
  t=$(now); node -e 0; node_ms+=($(( ($(now) - t) / 1000000 )))
  t=$(now); node packages/cli/bin/wgpt.js --version >/dev/null; version_ms+=($(( ($(now) - t) / 1000000 )))
  t=$(now); node packages/cli/bin/wgpt.js --help >/dev/null; help_ms+=($(( ($(now) - t) / 1000000 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
n=$(median "${node_ms[@]}"); v=$(median "${version_ms[@]}"); h=$(median "${help_ms[@]}")
echo "median of $runs runs: node -e 0 ${n} ms, wgpt --version ${v} ms ($(awk "BEGIN { printf \"%.1f\", $v / $n }")x), wgpt --help ${h} ms ($(awk "BEGIN { printf \"%.1f\", $h / $n }")x)"
