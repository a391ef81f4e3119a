#!/usr/bin/env bash
# Peak memory per stage: runs one `opentape release --timings` on an export, samples its
# resident memory (VmRSS) every 0.25 s, and prints each stage's seconds, its peak and its
# last sample (MiB). /usr/bin/time gives the whole run's peak only; this says where it is.
#
# usage: benches/rss_stages.sh BINARY EXPORT_DIR [PIPELINE]   (default: freesewing-v3)
#   e.g. opentape sample --format freesewing-v3 --people 10000000 --seed 1 --out /big/in \
#          --as-of 2026-11-29 && benches/rss_stages.sh target/debug/opentape /big/in
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1 input=$2 pipeline=${3:-pipelines/freesewing-v3.toml}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPENTAPE_NOISE_KEY=${OPENTAPE_NOISE_KEY:-bench-key-0123456789abcdef}
"$bin" release --pipeline "$pipeline" --version 1.0.0 --input "$input" --as-of 2026-11-29 \
  --out "$work/rel" --timings --quiet >/dev/null 2>"$work/err" &
pid=$!
start=$(date +%s.%N)
while kill -0 "$pid" 2>/dev/null; do
  kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$kb" ] && echo "$(date +%s.%N) $start $kb" >>"$work/rss"
  sleep 0.25
done
wait "$pid" || { cat "$work/err" >&2; exit 1; }
python3 - "$work/rss" "$work/err" <<'PY'
import re, sys
rss = [(float(t) - float(s), int(kb) / 1024) for t, s, kb in (l.split() for l in open(sys.argv[1]))]
stages = [(float(m[1]), m[2]) for m in (re.match(r"^timing\s+([0-9.]+) s\s+(.*)$", l) for l in open(sys.argv[2])) if m]
print("| stage | seconds | peak MiB | last MiB |\n|---|---|---|---|")
t = 0.0
for secs, name in stages:
    seg = [r for x, r in rss if t <= x < t + secs] or [0]
    print(f"| {name} | {secs:.2f} | {max(seg):.0f} | {seg[-1]:.0f} |")
    t += secs
print(f"\nwhole run: peak {max(r for _, r in rss):.0f} MiB (sampled every 0.25 s)")
PY
