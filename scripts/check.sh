#!/usr/bin/env bash
# scripts/check.sh: builds ws_api and runs every test, from a fresh Debian 12 machine with only
# the Rust toolchain, gcc, python3 and node on it (CI runs it as root through .ci/run).
#
#   bash scripts/check.sh
#
# Steps: install the missing system packages (one apt-get call) -> cargo fmt --check -> cargo
# clippy -D warnings -> autoreconf -> configure (build in _build/, install prefix _build/stage)
# -> make -> make check (cargo test + the C suite, also under valgrind) -> make install -> every
# executable scripts/check.d/*.sh in name order -> make distcheck.
# It stops at the first failing step and ends with `check: N passed, M failed`.
#
# Environment: WS_CHECK_JOBS (parallel jobs, default: the number of CPUs),
# WS_CHECK_D_TIMEOUT (seconds one check.d script may take, default 600).
#
# Each check.d script runs with WS_API_SRC (the repository root), WS_API_PREFIX (the staged
# install), PKG_CONFIG_PATH (its lib/pkgconfig) and WS_API_OUT (an empty folder for its output:
# _build/test-output/<script name>), and declares the Debian packages it needs on lines
# `# apt: pkg1 pkg2`.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WS_ROOT"

build=$WS_ROOT/_build
stage=$build/stage
jobs=${WS_CHECK_JOBS:-$(ws_jobs)}
checkd_timeout=${WS_CHECK_D_TIMEOUT:-600}
base_packages=(build-essential autoconf automake libtool pkg-config cmake valgrind libssl-dev)

passed=0
failed=0
started=$SECONDS

summary () {
  ws_section "Summary"
  echo "total time: $(( SECONDS - started ))s"
  echo "check: $passed passed, $failed failed"
}

# step NAME COMMAND...: runs one step under a header; on failure names it and stops everything.
step () {
  local name=$1 t0=$SECONDS rc=0
  shift
  ws_section "$name"
  "$@" || rc=$?
  if test $rc = 0; then
    passed=$(( passed + 1 ))
    echo "---- ok: $name ($(( SECONDS - t0 ))s)"
  else
    failed=$(( failed + 1 ))
    echo "---- FAILED: $name (exit status $rc, after $(( SECONDS - t0 ))s)" >&2
    summary
    exit 1
  fi
}

install_packages () {
  local pkgs
  mapfile -t pkgs < <(printf '%s\n' "${base_packages[@]}"; ws_apt_lines scripts/check.d/*.sh)
  echo "needed: ${pkgs[*]}"
  ws_apt_install "${pkgs[@]}"
}

# rustfmt and clippy are rustup components that a minimal toolchain may lack.
rust_components () {
  local missing=()
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  if test ${#missing[@]} -gt 0; then
    command -v rustup >/dev/null 2>&1 || ws_die "cargo lacks ${missing[*]} and there is no rustup to add them"
    rustup component add "${missing[@]}"
  fi
  cargo --version
  rustc --version
}

# A previous run's build tree is removed, except cargo's target directory (only a cache: cargo
# rebuilds what changed). distcheck leaves read-only directories behind when it fails.
clean_build_dir () {
  if test -d "$build"; then
    chmod -R u+w "$build"
    find "$build" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
  fi
  if test -f config.status; then
    ws_die "the source tree itself is configured (config.status): run 'make distclean' there first"
  fi
  mkdir -p "$build"
}

configure_build () {
  (cd "$build" && "$WS_ROOT/configure" --prefix="$stage")
}

run_make () {
  make -C "$build" -j"$jobs" "$@"
}

# A check.d script may raise its own limit with a "# timeout: SECONDS" line (the Autobahn
# deflate cases need more than the default).
script_timeout () {
  local t
  t=$(sed -n 's/^#[[:space:]]*timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
  echo "${t:-$checkd_timeout}"
}

run_checkd () {
  local script=$1 name out limit
  name=$(basename "$script" .sh)
  limit=$(script_timeout "$script")
  out=$build/test-output/$name
  rm -rf "$out"
  mkdir -p "$out"
  echo "WS_API_OUT=$out (timeout ${limit}s)"
  env WS_API_SRC="$WS_ROOT" WS_API_PREFIX="$stage" \
      PKG_CONFIG_PATH="$stage/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
      WS_API_OUT="$out" \
      timeout --kill-after=30 "$limit" "$script"
}

# All of cargo's output (clippy included) goes to the one target directory configure also uses.
export CARGO_TARGET_DIR=$build/target

step "System packages" install_packages
step "Rust toolchain" rust_components
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "Clean build directory" clean_build_dir
step "autoreconf" autoreconf --force --install
step "configure (_build, prefix _build/stage)" configure_build
step "make" run_make
step "make check" run_make check
step "make install" run_make install

shopt -s nullglob
for script in scripts/check.d/*.sh; do
  if test -x "$script"; then
    step "check.d: $(basename "$script")" run_checkd "$WS_ROOT/$script"
  else
    ws_warn "$script is not executable: skipped"
  fi
done
shopt -u nullglob

step "make distcheck" run_make distcheck

summary
