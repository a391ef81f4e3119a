#!/usr/bin/env bash
# Sparse sets: stores where each set holds what its owner entered, released with
# the shipped pipelines, measured against what the rules allow (benches/sparse_eval.py).
#
# usage: benches/sparse.sh [ALLOWED...]      (default: 1100 11000)
#   SEEDS="1 2 3" PYTHON=/path/to/venv/bin/python benches/sparse.sh 1100
# For each size (people FreeSewing's rules allow, about) and seed, three stores:
#   - v3 NDJSON       `opentape sample --format freesewing-v3` (pipelines/freesewing-v3.toml)
#   - v2 mongoexport  `opentape sample --format freesewing-v2-mongoexport` (freesewing-v2.toml)
#   - SQLite store    benches/sparse_store.py: FreeSewing's backend database made without
#                     opentape's code, another body model (freesewing-sqlite.toml)
# PYTHON needs `cryptography` (the store's encryption). Prints one table row per store.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1100 11000)
seeds=${SEEDS:-1 2 3}
py=${PYTHON:-python3}
cargo build -q --bin opentape
bin="${CARGO_TARGET_DIR:-target}/debug/opentape"
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
work=${BENCH_WORK:-$(mktemp -d)}
[ -n "${BENCH_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
echo "| store | allowed (about) | seed | allowed | people released | values released | worst mean % | worst std % | worst corr change | median corr change | pairs | release s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  for seed in $seeds; do
    # Records per allowed person in each store (consent, accounts, retention).
    v3=$((n * 1684 / 1000)); v2=$((n * 1500 / 1000)); st=$((n * 1670 / 1000))
    rm -rf "$work/v3" "$work/v2" "$work/st"
    "$bin" sample --format freesewing-v3 --people "$v3" --seed "$seed" --out "$work/v3" --as-of 2026-11-29 --quiet >/dev/null 2>&1
    "$bin" sample --format freesewing-v2-mongoexport --people "$v2" --seed "$seed" --out "$work/v2" --as-of 2026-11-29 --quiet >/dev/null 2>&1
    "$py" benches/sparse_store.py "$work/st" "$st" "$seed" 2>/dev/null
    for store in v3 v2 st; do
      case $store in
        v3) args=(--pipeline pipelines/freesewing-v3.toml --input "$work/v3" --as-of 2026-11-29); name="v3 NDJSON" ;;
        v2) args=(--pipeline pipelines/freesewing-v2.toml --input "$work/v2" --as-of 2026-11-29); name="v2 mongoexport" ;;
        st) args=(--pipeline pipelines/freesewing-sqlite.toml --input "$work/st/backend.sqlite" --store-key-file "$work/st/encryption.key" --as-of 2026-12-01); name="SQLite (independent)" ;;
      esac
      rm -rf "$work/rel-$store" "$work/priv-$store"
      start=$(date +%s.%N)
      if ! "$bin" release "${args[@]}" --version 1.0.0 --out "$work/rel-$store" --private-dir "$work/priv-$store" --quiet 2>"$work/err"; then
        echo "| $name | $n | $seed | refused: $(tail -1 "$work/err") |"
        continue
      fi
      secs=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
      python3 benches/sparse_eval.py "$work/$store" "$work/priv-$store" "$work/rel-$store/1.0.0" --json | python3 -c "
import json, sys
o = json.load(sys.stdin); w = o['worst']
print(f\"| $name | $n | $seed | {o['allowed_people']} | {o['people_share']:.3f} | {o['values_share']:.3f} | {w['mean_error_pct']} | {w['std_error_pct']} | {w['correlation_change']} | {w['correlation_median']} | {w['correlation_pairs']} | $secs |\")"
    done
  done
done
