#!/usr/bin/env bash
# Instructions executed by whole `crumb run`s, counted by valgrind's callgrind: an A/B comparison of builds that
# the machine's drift does not blur. Timings on the shared 2-core machines here move by 10–20% within an hour,
# and their VMs have no hardware counter for package-benchmark's `instructions` metric; callgrind counts every
# instruction the process runs, on every thread, the same for the same binary and input (with ASLR off and a
# fixed key, so that visitor ids, and with them the sketches' work, are the same from one run to the next).
#
#   Benchmarks/instructions.sh [BIN...]
#
# With no BIN, builds this checkout as the README recommends and counts that. Each BIN runs on the same input
# (INPUT, default a LINES-line gzip log from crumb's own generator, 200,000 lines: about a minute a run), and the
# script prints each total and its ratio to the first BIN's. callgrind slows a run about 50 times and runs its
# threads one at a time, so the counts say how much work a build does, not how its threads overlap. Its simulated
# processor lacks some extensions (SHA, AVX-512), so swift-crypto's SHA-256 and ISA-L take their portable paths
# and weigh more than they do natively: compare builds with each other, not counts with seconds. The same binary
# counted twice differs by about 0.01%.
#
# Needs valgrind. valgrind 3.19 cannot read the DWARF 5 debug information of a release build, so each BIN is
# counted from a copy without it (`strip -g`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
lines=${LINES:-200000}
work=${CRUMB_BENCH_DIR:-/tmp/crumb-compare}
mkdir -p "$work"
if [ $# -eq 0 ]; then
  swift build -c release --static-swift-stdlib --product crumb >&2
  set -- .build/release/crumb
fi
input=${INPUT:-$work/access-$lines.log.gz}
[ -f "$input" ] || "$1" generate --lines "$lines" --gzip -o "$input"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A fixed key: a random one would change every visitor id, and the sketch work with them.
export CRUMB_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff

first=""
index=0
for bin in "$@"; do
  index=$((index + 1))
  copy="$scratch/crumb-$index"
  strip -g -o "$copy" "$bin"
  setarch "$(uname -m)" -R valgrind --tool=callgrind --callgrind-out-file="$scratch/out-$index" \
    "$copy" run "$input" --out "$scratch/run-$index" --quiet --force 2>"$scratch/log-$index" \
    || { echo "instructions.sh: $bin failed under valgrind:" >&2; tail -5 "$scratch/log-$index" >&2; exit 1; }
  total=$(awk '/^totals:/ {print $2}' "$scratch/out-$index" 2>/dev/null || true)
  [ -n "$total" ] || { echo "instructions.sh: callgrind wrote no count for $bin:" >&2; tail -5 "$scratch/log-$index" >&2; exit 1; }
  [ -n "$first" ] || first=$total
  python3 -c "import sys; t, f = int(sys.argv[2]), int(sys.argv[3]); print(f'{sys.argv[1]}: {t:,} instructions ({t / f:.4f} of the first)')" \
    "$bin" "$total" "$first"
done
