#!/usr/bin/env bash
# Renders a release's report.html in headless Chromium (Debian package `chromium`) and
# saves a full-page PNG, to look at what a maintainer sees. Offline: the page loads nothing.
#
# usage: scripts/screenshot-report.sh RELEASE_DIR [OUT.png] [HEIGHT]
#   HEIGHT: the window's height in pixels (default 4000, the page's start at length);
#   900 shows what a maintainer sees first on a 1280 x 900 screen.
set -euo pipefail
rel=${1:?release folder}
out=${2:-report.png}
height=${3:-4000}
command -v chromium >/dev/null || { echo "install Debian's chromium first: apt-get install chromium" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1280,"$height" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$rel")/report.html" 2>/dev/null
echo "wrote $out"
