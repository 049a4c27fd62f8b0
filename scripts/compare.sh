#!/usr/bin/env bash
# Side-by-side throughput, in one hyperfine run, on a log made by crumb's own generator: zcat, igzip (the
# inflate floor), mawk's one-column count on the plain file, GoAccess, and crumb run on the gzip file (with the
# inflater crumb picks, and with zlib's; without a key, and with one, as resumable nightly runs use it) and on
# the plain file; then the ratios the performance issue sets targets for. Ratios are what to compare: machines here are shared and noisy.
#
#   scripts/compare.sh [LINES]      (default 2,000,000 lines, the PERFORMANCE.md baseline shape)
#
# Needs: hyperfine (apt-get install hyperfine); used when installed: igzip (isal), mawk, goaccess.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-2000000}
work=${CRUMB_BENCH_DIR:-/tmp/crumb-compare}
mkdir -p "$work"
# The release build the README recommends: the Swift runtime and Foundation linked into the binary.
swift build -c release --static-swift-stdlib --product crumb >&2
crumb=.build/release/crumb
log="$work/access-$lines.log.gz"
plain="$work/access-$lines.log"
[ -f "$log" ] || "$crumb" generate --lines "$lines" --gzip -o "$log"
[ -f "$plain" ] || zcat "$log" > "$plain"
ls -l "$log" "$plain" >&2
# A fixed key, for the keyed run only: it keeps the ledger and state rows a rerun continues from.
key="$work/bench.key"
[ -f "$key" ] || printf 'crumb compare.sh benchmark key, not a secret\n' > "$key"
chmod 600 "$key"

args=()
add() { args+=(-n "$1" "$2"); }
add zcat "zcat $log >/dev/null"
command -v igzip >/dev/null && add igzip "igzip -dc $log >/dev/null"
command -v mawk >/dev/null && add mawk "mawk '{c[\$7]++} END {for (k in c) n++; print n}' $plain >/dev/null"
add crumb-gzip "$crumb run $log --out $work/out --quiet --force"
add crumb-gzip-keyed "$crumb run $log --key-file $key --out $work/out-keyed --quiet --force"
# The same run on zlib's inflater (crumb loads ISA-L's when libisal.so.2 is present; see README).
add crumb-gzip-zlib "CRUMB_INFLATE=zlib $crumb run $log --out $work/out-zlib --quiet --force"
add crumb-plain "$crumb run $plain --out $work/out-plain --quiet --force"
command -v goaccess >/dev/null && add goaccess "goaccess $plain --log-format=COMBINED -o $work/goaccess.json"
hyperfine --warmup 1 --runs "${RUNS:-3}" --export-markdown "$work/compare.md" --export-json "$work/compare.json" "${args[@]}"
cat "$work/compare.md"

python3 - "$work/compare.json" "$lines" <<'PY'
import json, sys
mean = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
lines = int(sys.argv[2])
gz, keyed, plain = mean["crumb-gzip"], mean["crumb-gzip-keyed"], mean["crumb-plain"]
print(f"\ncrumb (gzip): {lines / gz:,.0f} lines/s, with a key {lines / keyed:,.0f}; crumb (plain): {lines / plain:,.0f} lines/s")
if "crumb-gzip-zlib" in mean: print(f"crumb gzip, zlib inflater / ISA-L's: {mean['crumb-gzip-zlib'] / gz:.2f}")
# Without a key a run keeps nothing for a later one (no ledger digest of the decoded lines, no state rows); with
# one it does the whole work of a resumable run. Both are given.
print(f"crumb gzip / zcat:  {gz / mean['zcat']:.2f}, with a key {keyed / mean['zcat']:.2f}   (target ≤ 0.4)")
if "igzip" in mean: print(f"crumb gzip / igzip: {gz / mean['igzip']:.2f}, with a key {keyed / mean['igzip']:.2f}   (target ≤ 1.5)")
if "mawk" in mean: print(f"crumb plain / mawk: {plain / mean['mawk']:.2f}   (target ≤ 0.5)")
if "goaccess" in mean: print(f"crumb lines/s over GoAccess lines/s (plain): {mean['goaccess'] / plain:.1f}×   (target ≥ 30×)")
PY
# Peak memory of the run that keeps the most: with a key (state rows and the ledger).
/usr/bin/time -v "$crumb" run "$log" --key-file "$key" --out "$work/out-keyed" --force 2>&1 | grep -E "crumb:|Maximum resident" || true
