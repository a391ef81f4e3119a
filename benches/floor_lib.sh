# Shared by the benches that time a release against its I/O floor (scale.sh,
# ansur_scale.sh, store_scale.sh). Sourced from the repository root, not run: builds the
# binary and the floor, sets $bin, $floor, $work and the noise key, and defines the helpers.
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian package: time)" >&2; exit 2; }
cargo build -q --bin opentape --example io_floor
target="${CARGO_TARGET_DIR:-target}/debug"
bin="$target/opentape"
floor="$target/examples/io_floor"
export OPENTAPE_NOISE_KEY=bench-key-0123456789abcdef
work=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$work"

# clean_on_exit NAME...: on exit, removes these names inside $work; with no BENCH_WORK
# (a temporary folder), the whole folder.
clean_on_exit() {
  local names=("$@")
  if [ -n "${BENCH_WORK:-}" ]; then
    # shellcheck disable=SC2064  # the names are fixed now, on purpose
    trap "cd '$work' && rm -rf ${names[*]}" EXIT
  else
    trap 'rm -rf "$work"' EXIT
  fi
}

# measure PREFIX COMMAND...: runs it with stdout/stderr in PREFIX.out/.err, wall seconds
# and peak KB in PREFIX.time; on failure prints its stderr and stops.
measure() {
  local prefix=$1; shift
  /usr/bin/time -f "%e %M" -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err" \
    || { cat "$prefix.err" >&2; exit 1; }
}

# stage_table ERR: the release's `--timings` lines as a markdown table.
stage_table() {
  echo "| stage | seconds |"
  echo "|---|---|"
  sed -n 's/^timing *\([0-9.]*\) s  \(.*\)$/| \2 | \1 |/p' "$1"
}

# ratio A B: A / B to two decimals.
ratio() {
  python3 -c "print(f'{$1 / $2:.2f}')"
}
