#!/usr/bin/env bash
# Checks the per-stage benchmarks' allocation counts against Benchmarks/Thresholds (what .ci/run runs).
#
# Fails (exit 1) when a count is worse than its threshold by more than the benchmark's tolerance (a tenth
# of an allocation per line, value or event of a pass; a hundredth per line in steady state), or when the
# benchmarks do not build or run. A count better than its threshold passes with a notice: lower the
# thresholds in the same change as the fix (Benchmarks/README.md), or set CRUMB_BENCH_RATCHET=1 to fail.
#
# Builds the CrumbBenchmarks target in release (CrumbCore and swift-crypto; not CrumbIO, GRDB or Yams).
# Usage: Benchmarks/check-allocations.sh [extra `swift package benchmark` options, e.g. --filter 'steadyState_.*']
set -uo pipefail
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

CRUMB_BENCH_CI=1 swift package benchmark thresholds check --target CrumbBenchmarks --no-progress "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# `swift package` exits 1 for a regression, an improvement and a crash alike; the tool's verdict says which.
if [ "$status" -eq 0 ]; then
  echo "check-allocations: allocation counts within their thresholds"
elif grep -q "is BETTER than the defined thresholds" "$log" && ! grep -q "is WORSE than\|crashed\|failed" "$log"; then
  echo "check-allocations: NOTICE: fewer allocations than Benchmarks/Thresholds allow; lower the thresholds:"
  echo "  cd Benchmarks && CRUMB_BENCH_CI=1 swift package --allow-writing-to-package-directory benchmark thresholds update --target CrumbBenchmarks"
  if [ "${CRUMB_BENCH_RATCHET:-0}" = 1 ]; then exit 1; fi
else
  echo "check-allocations: FAILED: more allocations than Benchmarks/Thresholds allow, or the benchmarks did not run (above)"
  exit 1
fi
