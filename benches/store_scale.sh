#!/usr/bin/env bash
# The SQLite scale target: a release from FreeSewing's backend database (N sets,
# encrypted at rest, from `opentape sample --format freesewing-sqlite`) against its own
# I/O floor: `examples/io_floor.rs` reads the database's Set and User tables with a plain
# `SELECT *` (nothing decrypted) and writes the same released table as Parquet + CSV.
# Wall time and peak RSS of both (GNU time), the ratio, and the release's stage times.
#
# usage: benches/store_scale.sh [PEOPLE]     (default 1000000; BENCH_WORK=/big/disk: 4 GB at 1M)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/floor_lib.sh
n=${1:-1000000}
# The store is kept in BENCH_WORK for the next run; a temporary folder goes whole.
clean_on_exit rel floor
[ -f "$work/sq/backend.sqlite" ] || "$bin" sample --format freesewing-sqlite \
  --people "$n" --seed 1 --out "$work/sq" --as-of 2026-11-29 --quiet
rm -rf "$work/rel" "$work/floor"
measure "$work/release" "$bin" release \
  --pipeline pipelines/freesewing-sqlite.toml --input "$work/sq/backend.sqlite" \
  --store-key-file "$work/sq/encryption.key" --version 1.0.0 --as-of 2026-11-29 \
  --out "$work/rel" --timings --quiet
measure "$work/floor" "$floor" "$work/sq/backend.sqlite" - \
  "$work/rel/1.0.0/measurements.parquet" "$work/floor"
read -r r_secs r_kb <"$work/release.time"
read -r f_secs f_kb <"$work/floor.time"
stage_table "$work/release.err"
echo
echo "| sets | release s | release peak MB | floor s | floor peak MB | release / floor |"
echo "|---|---|---|---|---|---|"
echo "| $n | $r_secs | $((r_kb / 1024)) | $f_secs | $((f_kb / 1024)) | $(ratio "$r_secs" "$f_secs") |"
