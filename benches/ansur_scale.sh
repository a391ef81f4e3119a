#!/usr/bin/env bash
# A wide research table at scale: ANSUR II resampled to ROWS rows by
# benches/ansur_table.py (93 measurements, each value scaled by a small random factor),
# released with pipelines/ansur2.toml (its defaults: the `quantile` method), against the
# I/O floor in the same run (examples/io_floor.rs: polars reads the two CSV files, types
# inferred, and writes the release's table as Parquet + CSV), and `opentape verify`.
#
# usage: benches/ansur_scale.sh [ROWS]          (default: 1000000)
#   ANSUR_TABLE=DIR: use (or make once, then keep) the table in DIR instead of a new one
#   in the work folder: making it takes ansur_table.py about 4 minutes at 1M rows.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/floor_lib.sh
n=${1:-1000000}
clean_on_exit table rel floor
echo "== ANSUR II at $n rows ($(nproc) cores)" >&2
table=${ANSUR_TABLE:-$work/table}
male="$table/ANSUR_II_MALE_Public.csv" female="$table/ANSUR_II_FEMALE_Public.csv"
if [ -z "${ANSUR_TABLE:-}" ] || [ ! -s "$male" ] || [ ! -s "$female" ] \
  || [ "$(cat "$table/rows" 2>/dev/null)" != "$n" ]; then
  python3 benches/ansur_table.py "$n" "$table"
  echo "$n" >"$table/rows"
fi
measure "$work/release" "$bin" release --pipeline pipelines/ansur2.toml \
  --version 1.0.0 --input "$male" --input "$female" --out "$work/rel" --timings --quiet
read -r r_secs r_kb <"$work/release.time"
measure "$work/floor" "$floor" "$male" "$female" "$work/rel/1.0.0/measurements.parquet" "$work/floor"
read -r f_secs f_kb <"$work/floor.time"
measure "$work/verify" "$bin" verify "$work/rel/1.0.0" --min-k 10 --quiet
read -r v_secs v_kb <"$work/verify.time"
echo
echo "Stages at $n rows (release --timings):"
echo
stage_table "$work/release.err"
echo
echo "| rows | release s | release peak MB | I/O floor s | floor peak MB | release / floor | verify s | verify peak MB |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $n | $r_secs | $((r_kb / 1024)) | $f_secs | $((f_kb / 1024)) | $(ratio "$r_secs" "$f_secs") | $v_secs | $((v_kb / 1024)) |"
