#!/usr/bin/env bash
# Scale harness: for each size, a synthetic FreeSewing v3 export from `opentape
# sample`, then in the same run:
#   - `opentape release --timings` (k = 10; it verifies the staged files itself): time per
#     stage, total wall time and peak RSS;
#   - the I/O floor: `examples/io_floor.rs` reads the same export with polars' NDJSON
#     reader and writes the same table as Parquet + CSV (wall time, peak RSS);
#   - `opentape verify` of the release on its own.
# Prints a stage table and a summary row per size, with release / floor ratio.
#
# usage: benches/scale.sh [PEOPLE...]        (default: 100000 1000000)
#   BENCH_WORK=/big/disk benches/scale.sh 10000000   (10M people need ~14 GB of input)
# Uses the dev-profile build that tests and the README use.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/floor_lib.sh
clean_on_exit 'in-*' 'floor-*' 'rel-*'
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
summary="| people | eligible | release s | release peak MB | I/O floor s | floor peak MB | release / floor | verify s | verify peak MB |
|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  echo "== $n people ($(nproc) cores, RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-all})" >&2
  "$bin" sample --format freesewing-v3 --people "$n" --seed 1 --out "$work/in-$n" --as-of 2026-11-29 --quiet >/dev/null
  # polars' NDJSON reader stops at the sample's one deliberately truncated line.
  mkdir -p "$work/floor-$n"
  grep -v '^{"id": 99999999' "$work/in-$n/sets.ndjson" >"$work/floor-$n/sets.ndjson" || true
  measure "$work/release-$n" "$bin" release --pipeline pipelines/freesewing-v3.toml --version 1.0.0 \
    --input "$work/in-$n" --as-of 2026-11-29 --out "$work/rel-$n" --timings --quiet
  read -r r_secs r_kb <"$work/release-$n.time"
  measure "$work/floor-$n/run" "$floor" "$work/floor-$n/sets.ndjson" "$work/in-$n/users.ndjson" \
    "$work/rel-$n/1.0.0/measurements.parquet" "$work/floor-$n/out"
  read -r f_secs f_kb <"$work/floor-$n/run.time"
  measure "$work/verify-$n" "$bin" verify "$work/rel-$n/1.0.0" --min-k 10 --quiet
  read -r v_secs v_kb <"$work/verify-$n.time"
  eligible=$(python3 -c "import json; print(json.load(open('$work/rel-$n/1.0.0/manifest.json'))['counts']['eligible_people'])")
  echo
  echo "Stages at $n people (release --timings):"
  echo
  stage_table "$work/release-$n.err"
  summary+=$'\n'"| $n | $eligible | $r_secs | $((r_kb / 1024)) | $f_secs | $((f_kb / 1024)) | $(ratio "$r_secs" "$f_secs") | $v_secs | $((v_kb / 1024)) |"
  rm -rf "$work/in-$n" "$work/floor-$n" "$work/rel-$n"
done
echo
echo "$summary"
