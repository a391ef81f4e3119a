#!/usr/bin/env bash
# Times `opentape sample`, `opentape release` (k = 10; it verifies the staged files itself)
# and a separate `opentape verify` of the result on synthetic FreeSewing v3 exports
# of the given sizes, with peak memory. Prints one Markdown table row per size.
#
# usage: benches/release.sh [PEOPLE...]      (default: 100000 1000000)
# Uses the dev-profile binary that `cargo build` makes (the one tests and README use).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
bin="${CARGO_TARGET_DIR:-target}/debug/opentape"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r secs kb <"$work/time"
  echo "$label $secs $((kb / 1024))"
}
echo "| people | sample s | sample peak MB | release s | release peak MB | verify s | verify peak MB | eligible | classes | suppressed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  read -r _ s_secs s_mb < <(measure sample "$bin" sample --format freesewing-v3 --people "$n" --seed 1 --out "$work/in-$n" --as-of 2026-11-29)
  read -r _ r_secs r_mb < <(measure release "$bin" release --pipeline pipelines/freesewing-v3.toml --version 1.0.0 \
    --input "$work/in-$n" --as-of 2026-11-29 --out "$work/rel-$n" --json)
  read -r _ v_secs v_mb < <(measure verify "$bin" verify "$work/rel-$n/1.0.0" --min-k 10)
  m="$work/rel-$n/1.0.0/manifest.json"
  read -r eligible classes suppressed < <(python3 -c "import json,sys; c=json.load(open('$m'))['counts']; print(c['eligible_people'], c['classes'], c['suppressed'])")
  echo "| $n | $s_secs | $s_mb | $r_secs | $r_mb | $v_secs | $v_mb | $eligible | $classes | $suppressed |"
  rm -rf "$work/in-$n" "$work/rel-$n"
done
