#!/usr/bin/env bash
# Issue 5's measurements, reproducible: a tree of 20 gzip access logs (about 1 GB decoded) read with
# --jobs 1 and --jobs 2 (wall time, with zcat of the same files for scale), a rerun of the unchanged tree,
# and peak memory of a batch run and of crumb stream over 2M and 8M lines.
#
# Usage: Benchmarks/scale.sh [WORKDIR]   (default /tmp/crumb-scale; needs hyperfine and GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/crumb-scale}
swift build -c release --static-swift-stdlib --product crumb >/dev/null
crumb=$PWD/.build/release/crumb
mkdir -p "$work/tree"

# 20 daily logs, 160,000 lines each: 1.01 GB decoded, 189 MB gzip.
for i in $(seq 1 20); do
  f="$work/tree/access.log.$i.gz"
  [ -s "$f" ] || "$crumb" generate --lines 160000 --seed "$i" --start $((1767225600 + (i - 1) * 86400)) --hours 24 --gzip -o "$f"
done
[ -s "$work/2m.log.gz" ] || "$crumb" generate --lines 2000000 --seed 1 --gzip -o "$work/2m.log.gz"
[ -s "$work/8m.log.gz" ] || "$crumb" generate --lines 8000000 --seed 1 --gzip -o "$work/8m.log.gz"
echo "key for the scale benchmark, not a secret" > "$work/key"
chmod 600 "$work/key"

hyperfine -r 1 --export-markdown "$work/jobs.md" --prepare "rm -rf $work/out" \
  "zcat $work/tree/*.gz > /dev/null" \
  "$crumb run $work/tree --out $work/out --quiet --jobs 1 --key-file $work/key" \
  "$crumb run $work/tree --out $work/out --quiet --jobs 2 --key-file $work/key"

# A rerun over the unchanged tree: nothing is read.
rm -rf "$work/out" && "$crumb" run "$work/tree" --out "$work/out" --quiet --key-file "$work/key"
hyperfine -r 3 --export-markdown "$work/rerun.md" "$crumb run $work/tree --out $work/out --quiet --key-file $work/key"

peak() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
for n in 2m 8m; do
  rm -rf "$work/mem"
  echo "run    $n: peak $(peak "$crumb" run "$work/$n.log.gz" --out "$work/mem" --quiet --jobs 2 --key-file "$work/key") KB"
  echo "stream $n: peak $(zcat "$work/$n.log.gz" | /usr/bin/time -f "%M" "$crumb" stream --format combined --no-stdout --out "$work/mem-stream" 2>&1 >/dev/null | tail -1) KB"
done
cat "$work/jobs.md" "$work/rerun.md"
