#!/usr/bin/env bash
# CI: the multi-threaded Rust tests under ThreadSanitizer, failing on any report.
#
# Rust's TSan needs the nightly toolchain and std rebuilt with the sanitizer (-Zbuild-std, which
# needs the rust-src component; added here when missing). valgrind's helgrind/drd are no
# substitute for this code: they do not understand the atomics and futex-based locks of Rust's std
# and report races that are not there.
#
# Runs tests/roundtrip.rs, tests/dispatch.rs, tests/faults.rs, tests/broadcast.rs,
# tests/lifetime.rs and tests/direct_write.rs (API threads, the I/O threads, callbacks, manual
# dispatch, sending threads writing to an idle connection under the write token, concurrent
# senders across a server restart, destroy under load, broadcasters and the I/O thread sharing the
# broadcast log, C API calls racing ws_context_destroy while context handles are reused).
# Timing-sensitive assertions still hold: TSan slows the code ~5-10x, the tests allow seconds.
# Environment: WS_API_SRC (repo root), WS_API_OUT (logs). Override the test list with
# WS_API_RACE_TESTS="roundtrip faults".
set -euo pipefail
SRC=${WS_API_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${WS_API_OUT:-$SRC/_build/test-output/41-race}
mkdir -p "$OUT"
TARGET=x86_64-unknown-linux-gnu
TESTS=${WS_API_RACE_TESTS:-roundtrip dispatch faults broadcast lifetime direct_write}

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "41-race: installing the nightly toolchain (ThreadSanitizer needs it)" >&2
  if ! rustup toolchain install nightly --profile minimal --component rust-src >"$OUT/rustup.log" 2>&1; then
    # Not a failure of the code under test: the machine cannot get the tool. Say so plainly.
    tail -5 "$OUT/rustup.log" >&2
    echo "41-race: SKIPPED: no nightly toolchain can be installed on this machine" >&2
    exit 0
  fi
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
  rustup component add rust-src --toolchain nightly
fi

args=()
for t in $TESTS; do args+=(--test "$t"); done

cd "$SRC"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR_TSAN:-$SRC/_build/tsan-target}
export RUSTFLAGS="-Zsanitizer=thread -Cdebuginfo=1"
export RUSTDOCFLAGS="-Zsanitizer=thread"
# halt_on_error: the first report fails the run; the log keeps both stacks.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 log_path=$OUT/tsan"
rm -f "$OUT"/tsan.*
echo "41-race: building and running ${TESTS} under ThreadSanitizer" >&2
# Two test threads: the machine has two cores and TSan multiplies the work.
if ! cargo +nightly test -Zbuild-std --target "$TARGET" "${args[@]}" -- --test-threads=2 \
    >"$OUT/cargo-test.log" 2>&1; then
  tail -60 "$OUT/cargo-test.log" >&2
  for f in "$OUT"/tsan.*; do [ -f "$f" ] && head -80 "$f" >&2; done
  echo "41-race: FAILED (logs in $OUT)" >&2
  exit 1
fi
if ls "$OUT"/tsan.* >/dev/null 2>&1; then
  head -80 "$OUT"/tsan.* >&2
  echo "41-race: FAILED: ThreadSanitizer reports (logs in $OUT)" >&2
  exit 1
fi
grep -E '^test result' "$OUT/cargo-test.log" >&2
echo "41-race: no ThreadSanitizer report" >&2
