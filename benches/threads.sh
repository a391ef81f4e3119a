#!/usr/bin/env bash
# Thread scaling: the same release with RAYON_NUM_THREADS=1 and =2, stage by stage, and a
# byte comparison of the outputs (they must be identical). polars keeps a thread pool of
# its own (the table writer's encoders): POLARS_MAX_THREADS is set to the same count, so
# "1 thread" is one thread in both pools.
#
# usage: benches/threads.sh [PEOPLE]      (default: 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
bin="${CARGO_TARGET_DIR:-target}/debug/opentape"
n=${1:-300000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
"$bin" sample --format freesewing-v3 --people "$n" --seed 1 --out "$work/in" --as-of 2026-11-29 2>/dev/null
for t in 1 2; do
  RAYON_NUM_THREADS=$t POLARS_MAX_THREADS=$t "$bin" release --pipeline pipelines/freesewing-v3.toml --version 1.0.0 \
    --input "$work/in" --as-of 2026-11-29 --out "$work/t$t" --timings --quiet >/dev/null 2>"$work/timings-$t"
done
echo "| stage | 1 thread s | 2 threads s | speed-up |"
echo "|---|---|---|---|"
paste -d'|' "$work/timings-1" "$work/timings-2" | awk -F'|' '{
  split($1, a, " "); split($2, b, " ");
  stage = $1; sub(/^timing +[0-9.]+ s  /, "", stage);
  printf "| %s | %s | %s | %s |\n", stage, a[2], b[2], (b[2] > 0 ? sprintf("%.2f", a[2] / b[2]) : "-")
}'
if diff -r "$work/t1/1.0.0" "$work/t2/1.0.0" >/dev/null; then
  echo; echo "outputs byte-identical: yes"
else
  echo; echo "outputs byte-identical: NO"; exit 1
fi
