#!/usr/bin/env bash
# Timing two builds on one export, alternating (old, new, old, new, ...), so both meet the
# same machine: this 2-core VM's speed drifts by 10% and more between minutes, which a
# single run of each cannot tell from a change. Prints each run's wall time, peak RSS and
# `release --timings` stage seconds in order. For bytes, use benches/compare.sh.
#
# usage: benches/ab.sh OLD_BINARY NEW_BINARY [PEOPLE] [ROUNDS]   (default: 1000000 2)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian package: time)" >&2; exit 2; }
old=$1 new=$2 n=${3:-1000000} rounds=${4:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
"$new" sample --format freesewing-v3 --people "$n" --seed 1 --out "$work/in" --as-of 2026-11-29 --quiet >/dev/null
for r in $(seq "$rounds"); do
  for side in old new; do
    bin=${!side}
    rm -rf "$work/rel"
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" release --pipeline pipelines/freesewing-v3.toml \
      --version 1.0.0 --input "$work/in" --as-of 2026-11-29 --out "$work/rel" --timings --quiet \
      >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r secs kb <"$work/time"
    echo "$side round $r: $secs s, $((kb / 1024)) MB | $(sed -n 's/^timing *\([0-9.]*\) s .*/\1/p' "$work/err" | tr '\n' ' ')"
  done
done
