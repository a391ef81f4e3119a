#!/usr/bin/env bash
# A wide research table at scale (issue 18): ANSUR II resampled to ROWS rows by
# benches/ansur_table.py (93 measurements, each value scaled by a small random factor),
# released with pipelines/ansur2.toml (its defaults: the issue 11/15 method), against the
# I/O floor in the same run (examples/io_floor.rs: polars reads the two CSV files, types
# inferred, and writes the release's table as Parquet + CSV), and `opentape verify`.
#
# usage: benches/ansur_scale.sh [ROWS]          (default: 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian package: time)" >&2; exit 2; }
cargo build -q --bin opentape --example io_floor
target="${CARGO_TARGET_DIR:-target}/debug"
bin="$target/opentape"
floor="$target/examples/io_floor"
n=${1:-1000000}
work=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$work"
trap 'rm -rf "$work"/table "$work"/rel "$work"/floor' EXIT
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
echo "== ANSUR II at $n rows ($(nproc) cores)" >&2
python3 benches/ansur_table.py "$n" "$work/table"
male="$work/table/ANSUR_II_MALE_Public.csv" female="$work/table/ANSUR_II_FEMALE_Public.csv"
/usr/bin/time -f "%e %M" -o "$work/release.time" "$bin" release --pipeline pipelines/ansur2.toml \
  --version 1.0.0 --input "$male" --input "$female" --out "$work/rel" --timings --quiet \
  >"$work/release.out" 2>"$work/release.err" || { cat "$work/release.err" >&2; exit 1; }
read -r r_secs r_kb <"$work/release.time"
/usr/bin/time -f "%e %M" -o "$work/floor.time" "$floor" "$male" "$female" \
  "$work/rel/1.0.0/measurements.parquet" "$work/floor" >/dev/null 2>"$work/floor.err" \
  || { cat "$work/floor.err" >&2; exit 1; }
read -r f_secs f_kb <"$work/floor.time"
/usr/bin/time -f "%e %M" -o "$work/verify.time" "$bin" verify "$work/rel/1.0.0" --min-k 10 --quiet >/dev/null
read -r v_secs v_kb <"$work/verify.time"
echo
echo "Stages at $n rows (release --timings):"
echo
echo "| stage | seconds |"
echo "|---|---|"
sed -n 's/^timing *\([0-9.]*\) s  \(.*\)$/| \2 | \1 |/p' "$work/release.err"
echo
echo "| rows | release s | release peak MB | I/O floor s | floor peak MB | release / floor | verify s | verify peak MB |"
echo "|---|---|---|---|---|---|---|---|"
ratio=$(python3 -c "print(f'{$r_secs / $f_secs:.2f}')")
echo "| $n | $r_secs | $((r_kb / 1024)) | $f_secs | $((f_kb / 1024)) | $ratio | $v_secs | $((v_kb / 1024)) |"
