#!/usr/bin/env bash
# Side-by-side throughput: crumb against zcat (the inflate floor most people know) and GoAccess, on the same
# generated gzip log, in one run. Ratios are what to compare: machines here are shared and noisy.
#
#   scripts/compare.sh [LINES]      (default 2,000,000 lines, the PERFORMANCE.md baseline shape)
#
# Needs: hyperfine, goaccess (apt-get install hyperfine goaccess); optional: igzip (apt-get install isal).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-2000000}
work=${CRUMB_BENCH_DIR:-/tmp/crumb-compare}
mkdir -p "$work"
swift build -c release --product crumb >&2
crumb=.build/release/crumb
log="$work/access-$lines.log.gz"
[ -f "$log" ] || "$crumb" generate --lines "$lines" --gzip -o "$log"
ls -l "$log" >&2

commands=(
  "zcat $log >/dev/null"
  "$crumb run $log --out $work/out --quiet"
)
command -v igzip >/dev/null && commands=("igzip -dc $log >/dev/null" "${commands[@]}")
if command -v goaccess >/dev/null; then
  commands+=("zcat $log | goaccess - --log-format=COMBINED -o $work/goaccess.json")
fi
hyperfine --warmup 1 --runs "${RUNS:-3}" --export-markdown "$work/compare.md" "${commands[@]}"
cat "$work/compare.md"
/usr/bin/time -v "$crumb" run "$log" --out "$work/out" 2>&1 | grep -E "crumb:|Maximum resident" || true
