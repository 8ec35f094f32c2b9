#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time (libFuzzer + AddressSanitizer).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# Targets: server_input (bytes on a socket to a server, handshake included), c_api (random call
# sequences with random arguments through the C API, from three threads).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`; installed here on
# demand). The corpus lives in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>); a crash
# leaves its input in fuzz/artifacts/<target>/ and makes this script exit non-zero. Keep each
# crash as a regression test (tests/fault_regressions.rs) once fixed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(server_input c_api)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SRC/fuzz/target}

rustup toolchain list | grep -q '^nightly' || { echo "fuzz.sh: needs the nightly toolchain" >&2; exit 1; }
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

cd "$SRC/fuzz"
cargo +nightly fuzz build -O
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  echo "fuzz.sh: $t for ${SECS} s" >&2
  # -rss_limit_mb: each input opens sockets and threads; a real leak still trips it.
  if ! cargo +nightly fuzz run -O "$t" "corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$SECS" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" 2>"artifacts/$t/last-run.log"; then
    echo "fuzz.sh: $t FOUND A PROBLEM; see fuzz/artifacts/$t/ and last-run.log" >&2
    tail -40 "artifacts/$t/last-run.log" >&2
    status=1
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' "artifacts/$t/last-run.log" | tail -3 >&2 || true
  fi
done
exit $status
