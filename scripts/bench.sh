#!/usr/bin/env bash
# scripts/bench.sh: builds bench/ and runs every benchmark scenario (docs/bench.md).
#
#   scripts/bench.sh            full run (under 10 minutes); writes bench/results.md and .json
#   scripts/bench.sh --quick    every scenario with tiny sizes (seconds); checks that each
#                               program works and loses nothing, never judges speed
#
# ws_api comes from pkg-config when PKG_CONFIG_PATH finds ws_api.pc (a staged `make install`,
# as in CI); otherwise the crate is built here with cargo (CARGO_TARGET_DIR, default
# /tmp/bench-target) and used from include/ and that target directory. libwebsockets comes from
# the system (libwebsockets-dev). Environment: BENCH_OUT (where the programs and a --quick run's
# results go; default _build/bench), BENCH_ONLY (comma-separated scenario numbers).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WS_ROOT"

quick=
doc=()
case "${1:-}" in
  --quick) quick=--quick ;;
  "") ;;
  *) ws_die "usage: scripts/bench.sh [--quick]" ;;
esac

out=${BENCH_OUT:-$WS_ROOT/_build/bench}
mkdir -p "$out"

pkg-config --exists libwebsockets || ws_die "libwebsockets not found by pkg-config (apt-get install libwebsockets-dev)"

ws_section "Building the benchmark programs"
make_args=(-C bench "O=$out/bin")
if pkg-config --exists ws_api; then
  echo "ws_api from pkg-config: $(pkg-config --variable=prefix ws_api)"
else
  target=${CARGO_TARGET_DIR:-/tmp/bench-target}
  echo "ws_api.pc not found: building the crate into $target"
  CARGO_TARGET_DIR=$target cargo build --release --lib
  make_args+=("WS_API_CFLAGS=-I$WS_ROOT/include"
              "WS_API_LIBS=$target/release/libws_api.a -lssl -lcrypto -ldl -lm")
fi
# -B: relinked every time, so a rebuilt library is always the one measured (a few seconds).
make -B "${make_args[@]}"

ws_section "Running the benchmarks${quick:+ (quick)}"
if test -n "$quick" || test -n "${BENCH_ONLY:-}"; then
  # A quick or partial run never overwrites the committed results.
  md=$out/results.md json=$out/results.json
else
  md=$WS_ROOT/bench/results.md json=$WS_ROOT/bench/results.json
  doc=(--doc "$WS_ROOT/docs/bench.md")
fi
only=()
test -z "${BENCH_ONLY:-}" || only=(--only "$BENCH_ONLY")
python3 bench/run.py --bin "$out/bin" $quick --md "$md" --json "$json" "${doc[@]}" "${only[@]}"
echo "results: $md, $json"
