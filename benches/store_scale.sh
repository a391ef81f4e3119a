#!/usr/bin/env bash
# The SQLite target of issue 18: a release from FreeSewing's backend database (N sets,
# encrypted at rest, from `opentape sample --format freesewing-sqlite`) against its own
# I/O floor: `examples/io_floor.rs` reads the database's Set and User tables with a plain
# `SELECT *` (nothing decrypted) and writes the same released table as Parquet + CSV.
# Wall time and peak RSS of both (GNU time), the ratio, and the release's stage times.
#
# usage: benches/store_scale.sh [PEOPLE]     (default 1000000; BENCH_WORK=/big/disk: 4 GB at 1M)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian package: time)" >&2; exit 2; }
cargo build -q --bin opentape --example io_floor
target="${CARGO_TARGET_DIR:-target}/debug"
n=${1:-1000000}
work=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$work"
trap 'rm -rf "$work/rel" "$work/floor"' EXIT
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
[ -f "$work/sq/backend.sqlite" ] || "$target/opentape" sample --format freesewing-sqlite \
  --people "$n" --seed 1 --out "$work/sq" --as-of 2026-11-29 --quiet
rm -rf "$work/rel" "$work/floor"
/usr/bin/time -f "%e %M" -o "$work/release.time" "$target/opentape" release \
  --pipeline pipelines/freesewing-sqlite.toml --input "$work/sq/backend.sqlite" \
  --store-key-file "$work/sq/encryption.key" --version 1.0.0 --as-of 2026-11-29 \
  --out "$work/rel" --timings --quiet >/dev/null 2>"$work/release.err" || { cat "$work/release.err" >&2; exit 1; }
/usr/bin/time -f "%e %M" -o "$work/floor.time" "$target/examples/io_floor" "$work/sq/backend.sqlite" - \
  "$work/rel/1.0.0/measurements.parquet" "$work/floor" 2>"$work/floor.err" || { cat "$work/floor.err" >&2; exit 1; }
read -r r_secs r_kb <"$work/release.time"
read -r f_secs f_kb <"$work/floor.time"
echo "| stage | seconds |"
echo "|---|---|"
sed -n 's/^timing *\([0-9.]*\) s  \(.*\)$/| \2 | \1 |/p' "$work/release.err"
echo
echo "| sets | release s | release peak MB | floor s | floor peak MB | release / floor |"
echo "|---|---|---|---|---|---|"
echo "| $n | $r_secs | $((r_kb / 1024)) | $f_secs | $((f_kb / 1024)) | $(python3 -c "print(f'{$r_secs / $f_secs:.2f}')") |"
