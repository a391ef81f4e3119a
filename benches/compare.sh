#!/usr/bin/env bash
# Same output from two builds: releases the shipped samples (FreeSewing v2, v3, ANSUR II)
# and, with PEOPLE, a synthetic v3 export of that size, with each binary and the same
# noise key, and compares every file of the release and the private folder byte for byte.
# For speed work that must not change what is published.
#
# usage: benches/compare.sh OLD_BINARY NEW_BINARY [PEOPLE]
#   e.g. git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build) and copy its
#   target/debug/opentape aside before building the new one. With one CARGO_TARGET_DIR for
#   both trees, touch every .rs file of the new tree (src/ and verify/src/) before building
#   it: cargo may otherwise link the old tree's artifacts of a workspace crate.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 people=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
cases=(
  "v2|pipelines/freesewing-v2.toml|data-samples/freesewing-v2"
  "v3|pipelines/freesewing-v3.toml|data-samples/freesewing-v3"
  "ansur2|pipelines/ansur2.toml|data-samples/ansur2/ANSUR_II_MALE_Public.csv data-samples/ansur2/ANSUR_II_FEMALE_Public.csv"
)
if [ -n "$people" ]; then
  "$new" sample --format freesewing-v3 --people "$people" --seed 1 --out "$work/in" --as-of 2026-11-29 --quiet >/dev/null 2>&1
  cases+=("v3-$people|pipelines/freesewing-v3.toml|$work/in")
fi
status=0
for c in "${cases[@]}"; do
  IFS='|' read -r name pipeline inputs <<<"$c"
  args=()
  for i in $inputs; do args+=(--input "$i"); done
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    "$bin" release --pipeline "$pipeline" --version 1.0.0 "${args[@]}" --as-of 2026-11-29 \
      --out "$work/$name/$side/out" --private-dir "$work/$name/$side/private" --quiet >/dev/null
  done
  if diff -r "$work/$name/old" "$work/$name/new" >/dev/null; then
    echo "$name: identical ($(find "$work/$name/old" -type f | wc -l) files)"
  else
    echo "$name: DIFFERENT"; diff -rq "$work/$name/old" "$work/$name/new" || true; status=1
  fi
done
exit $status
