#!/usr/bin/env bash
# scripts/bench.sh: builds bench/ and runs every benchmark scenario (docs/bench.md).
#
#   scripts/bench.sh            full run: 5 interleaved rounds of every scenario (about 15
#                               minutes on a quiet 2-core machine); writes bench/results.md and
#                               .json, the results block of docs/bench.md and the goals of README.md
#   scripts/bench.sh --quick    every scenario once with tiny sizes (about 10 s); checks that
#                               each program works and loses nothing, never judges speed
#
# ws_api comes from pkg-config when PKG_CONFIG_PATH finds ws_api.pc (a staged `make install`,
# as in CI); otherwise the crate is built here with cargo (CARGO_TARGET_DIR, default
# /tmp/bench-target) and used from include/ and that target directory. libwebsockets comes from
# the system (libwebsockets-dev). Environment: BENCH_OUT (where the programs and a --quick run's
# results go; default _build/bench), BENCH_ONLY (comma-separated scenario numbers),
# BENCH_REPS (rounds per scenario, default 5) and BENCH_SCALE (multiplies message counts and
# durations; e.g. BENCH_REPS=2 BENCH_SCALE=0.05 tests the tooling in a minute or two): a run with
# any of these writes under BENCH_OUT, never over the committed results, except that
# BENCH_KEEP_OTHERS=1 with BENCH_ONLY (no BENCH_SCALE, BENCH_REPS at least 5) re-measures those
# scenarios into the committed results, keeping every other scenario's rows as they are.
# BENCH_ACK_WINDOW sets ack-window() of scenario 8's acknowledged path (default: the module's).
# Scenario 8 (syslog-ng -> syslog-ng) needs syslog-ng and loggen (syslog-ng-core) and the module
# libwebsocket.so, taken from BENCH_SNG_MODULE_DIR, else from the ws_api prefix pkg-config
# names, else from _build/stage (the autotools build's `make install`), else from syslog-ng's own
# module directory. A full run fails without it; --quick skips it when syslog-ng is missing.
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

# The syslog-ng module of scenario 8 (see the top). syslog-ng's moduledir relocated under a
# prefix: what `make install` with --prefix=PREFIX uses.
sng_module=${BENCH_SNG_MODULE_DIR:-}
if test -z "$sng_module" && pkg-config --exists syslog-ng; then
  prefixes=()
  ! pkg-config --exists ws_api || prefixes+=("$(pkg-config --variable=prefix ws_api)")
  prefixes+=("$WS_ROOT/_build/stage")
  for p in "${prefixes[@]}"; do
    d=$(pkg-config --define-variable=prefix="$p" --variable=moduledir syslog-ng)
    if test -f "$d/libwebsocket.so"; then sng_module=$d; break; fi
  done
  d=$(pkg-config --variable=moduledir syslog-ng)
  test -n "$sng_module" || ! test -f "$d/libwebsocket.so" || sng_module=$d
fi
echo "syslog-ng module (scenario 8): ${sng_module:-not found}"

ws_section "Running the benchmarks${quick:+ (quick)}"
keep=
if test -n "${BENCH_KEEP_OTHERS:-}"; then
  test -n "${BENCH_ONLY:-}" && test -z "$quick${BENCH_SCALE:-}${BENCH_ACK_WINDOW:-}" &&
    test "${BENCH_REPS:-5}" -ge 5 ||
    ws_die "BENCH_KEEP_OTHERS=1 needs BENCH_ONLY, at least 5 rounds, full sizes and the default ack-window()"
  keep=--keep-others
fi
if test -z "$keep" && { test -n "$quick" || test -n "${BENCH_ONLY:-}${BENCH_REPS:-}${BENCH_SCALE:-}${BENCH_ACK_WINDOW:-}"; }; then
  # A quick or partial run never overwrites the committed results.
  md=$out/results.md json=$out/results.json
else
  md=$WS_ROOT/bench/results.md json=$WS_ROOT/bench/results.json
  doc=(--doc "$WS_ROOT/docs/bench.md" --readme "$WS_ROOT/README.md")
fi
opts=()
test -z "${BENCH_ONLY:-}" || opts+=(--only "$BENCH_ONLY")
test -z "${BENCH_REPS:-}" || opts+=(--reps "$BENCH_REPS")
test -z "${BENCH_SCALE:-}" || opts+=(--scale "$BENCH_SCALE")
test -z "${BENCH_ACK_WINDOW:-}" || opts+=(--ack-window "$BENCH_ACK_WINDOW")
test -z "$keep" || opts+=("$keep")
test -z "$sng_module" || opts+=(--sng-module "$sng_module")
rm -rf "$out/sng-work"
# No __pycache__ in the source tree (bench/ and the module's tests/, which run.py imports).
PYTHONDONTWRITEBYTECODE=1 python3 bench/run.py --bin "$out/bin" $quick --md "$md" --json "$json" --workdir "$out/sng-work" \
  "${doc[@]}" "${opts[@]}"
echo "results: $md, $json"
