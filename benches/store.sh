#!/usr/bin/env bash
# Reading FreeSewing's backend database against reading the same people as NDJSON, in
# one run: `opentape sample --format freesewing-sqlite` writes N sets encrypted at rest;
# benches/store_dump.py (Python + cryptography) dumps its User and Set rows decrypted,
# one per line, as `sqlite3 -json` prints rows; both are released with --timings and the
# "reading the export" stages compared, alternating, ROUNDS times.
#
# usage: benches/store.sh [PEOPLE] [ROUNDS]    (BENCH_WORK=/big/disk for 1M: 4 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
people=${1:-1000000} rounds=${2:-3}
work=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$work"
bin=${OPENTAPE:-target/debug/opentape}
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
if [ ! -f "$work/sq/backend.sqlite" ]; then
  "$bin" sample --format freesewing-sqlite --people "$people" --seed 1 --out "$work/sq" --as-of 2026-11-29 --quiet
fi
if [ ! -f "$work/nd/sets.ndjson" ]; then
  python3 benches/store_dump.py "$work/sq/backend.sqlite" "$work/sq/encryption.key" "$work/nd"
fi
for i in $(seq "$rounds"); do
  rm -rf "$work/o-sq" "$work/o-nd"
  s=$("$bin" release --pipeline pipelines/freesewing-sqlite.toml --input "$work/sq/backend.sqlite" \
    --store-key-file "$work/sq/encryption.key" --version 1.0.0 --as-of 2026-11-29 --out "$work/o-sq" \
    --timings --quiet 2>&1 | awk '/reading the export/ {print $2}')
  n=$("$bin" release --pipeline pipelines/freesewing-v3.toml --input "$work/nd" --version 1.0.0 \
    --as-of 2026-11-29 --out "$work/o-nd" --timings --quiet 2>&1 | awk '/reading the export/ {print $2}')
  echo "round $i: sqlite $s s, ndjson $n s, ratio $(awk -v a="$s" -v b="$n" 'BEGIN { printf "%.2f", a / b }')"
done
