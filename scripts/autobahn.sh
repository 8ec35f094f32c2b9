#!/usr/bin/env bash
# Autobahn|Testsuite conformance run for ws_api, on loopback only.
#
#   scripts/autobahn.sh [--quick] [--cases 'G1,G2,...'] [--server-only|--client-only|--prepare]
#
# 1. Installs autobahntestsuite 25.10.1 (Python 2 code) into a Python 2.7 virtualenv made with
#    virtualenv 20.21.x, every dependency pinned (tests/autobahn/requirements-py27.txt). The
#    environment is kept in $AUTOBAHN_HOME (default ~/.cache/ws_api/autobahn) and reused.
# 2. Builds the echo peers examples/echo_{server,client}.c (both with permessage-deflate on,
#    ws_options_set_compression level 1) against the library: the staged
#    install in $WS_API_PREFIX through pkg-config --static when set, else a `cargo build --release`
#    of this tree (honouring CARGO_TARGET_DIR).
# 3. Server side: wstest's fuzzingclient against echo_server. Client side: wstest's
#    fuzzingserver (bound to 127.0.0.1, web UI off) against echo_client.
# 4. Prints a summary per case group (tests/autobahn/summary.py; also written as markdown) and
#    exits non-zero when any case's behavior or close behavior is FAILED or any case (groups
#    12 and 13, permessage-deflate, included) is UNIMPLEMENTED.
#
# Default: every case (1-13, 517 per side). --quick: groups 1-7, 9, 10 and the first (smallest)
# case of each permessage-deflate subgroup, 12.1.1-12.5.1 and 13.1.1-13.7.1 (about 20 s per side).
# --prepare: steps 1 and 2 only (scripts/check.d/40-autobahn.sh prepares once, then runs the two
# sides at once, each with its own $WS_API_OUT).
# Output: $WS_API_OUT (default _build/autobahn): reports/{server,client}/index.html and *.json,
# summary.txt, summary.md, logs.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${WS_API_OUT:-$SRC/_build/autobahn}
AB_HOME=${AUTOBAHN_HOME:-${HOME:-/root}/.cache/ws_api/autobahn}
AB_VERSION=25.10.1
VIRTUALENV_SPEC='virtualenv>=20.21,<20.22'
# Each wstest run is bounded: a hang fails the run instead of blocking CI.
RUN_TIMEOUT=${AUTOBAHN_TIMEOUT:-1800}

# Case ids: the suite matches a pattern as a regular expression on a prefix (12.*.1 would take
# 12.*.10-18 too).
QUICK_CASES='1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.1.1,12.2.1,12.3.1,12.4.1,12.5.1,13.1.1,13.2.1,13.3.1,13.4.1,13.5.1,13.6.1,13.7.1'
CASES='*'
SIDES='server client'
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) CASES=$QUICK_CASES ;;
    --cases) CASES=$2; shift ;;
    --server-only) SIDES=server ;;
    --client-only) SIDES=client ;;
    --prepare) SIDES= ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "autobahn.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

log() { printf 'autobahn: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---- processes we start, stopped by pid on any exit -------------------------------------------
PIDS=()
cleanup() {
  local p
  exec 7>&- 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

# ---- interpreters ---------------------------------------------------------------------------
find_python27() {
  local root cand
  if [ -n "${WS_API_PY27:-}" ]; then echo "$WS_API_PY27"; return; fi
  for root in "${PYENV_ROOT:-}" "$(pyenv root 2>/dev/null || true)" "${HOME:-/root}/.pyenv" /root/.pyenv; do
    [ -n "$root" ] || continue
    for cand in "$root"/versions/2.7*/bin/python2.7; do
      [ -x "$cand" ] && { echo "$cand"; return; }
    done
  done
  command -v python2.7 || true
}

# A Python 3 that can make a venv (pyenv's builds can; Debian's needs python3-venv).
find_python3() {
  local root cand
  for root in "${PYENV_ROOT:-}" "${HOME:-/root}/.pyenv" /root/.pyenv; do
    [ -n "$root" ] || continue
    for cand in $(ls -d "$root"/versions/3.*/bin/python3 2>/dev/null | sort -V -r); do
      "$cand" -c 'import venv, ensurepip' 2>/dev/null && { echo "$cand"; return; }
    done
  done
  command -v python3 || true
}

install_suite() {
  local py27 py3 stamp
  stamp="$AB_HOME/.installed-$AB_VERSION"
  if [ -f "$stamp" ] && "$AB_HOME/py27/bin/python" -c 'import autobahntestsuite' 2>/dev/null; then
    return
  fi
  py27=$(find_python27)
  [ -n "$py27" ] || die "no Python 2.7 found (pyenv versions/2.7.*; set WS_API_PY27)"
  py3=$(find_python3)
  [ -n "$py3" ] || die "no Python 3 found to run virtualenv"
  log "installing autobahntestsuite $AB_VERSION into $AB_HOME (Python 2.7: $py27)"
  rm -rf "$AB_HOME"
  mkdir -p "$AB_HOME"
  # virtualenv 20.21.x is the last line that still creates Python 2.7 environments.
  "$py3" -m venv "$AB_HOME/tools"
  "$AB_HOME/tools/bin/python" -m pip install -q --disable-pip-version-check "$VIRTUALENV_SPEC"
  "$AB_HOME/tools/bin/python" -m virtualenv -q -p "$py27" "$AB_HOME/py27"
  # Every dependency pinned to what the package's metadata names (Twisted 19.10.0, autobahn
  # 0.10.9, ...) and their own Python-2-compatible dependencies.
  "$AB_HOME/py27/bin/python" -m pip install -q --disable-pip-version-check \
    --no-python-version-warning -r "$SRC/tests/autobahn/requirements-py27.txt"
  "$AB_HOME/py27/bin/python" -c 'import autobahntestsuite, twisted, autobahn' \
    || die "autobahntestsuite does not import after installation"
  touch "$stamp"
}

# ---- echo peers -----------------------------------------------------------------------------
build_peers() {
  local cflags libs target
  mkdir -p "$OUT/bin"
  if [ -n "${WS_API_PREFIX:-}" ] && pkg-config --exists ws_api 2>/dev/null; then
    cflags=$(pkg-config --cflags --static ws_api)
    libs=$(pkg-config --libs --static ws_api)
    log "building echo peers against the staged install ($WS_API_PREFIX)"
  else
    target=${CARGO_TARGET_DIR:-$SRC/target}
    log "building the library (cargo build --release, target $target)"
    (cd "$SRC" && cargo build --release --quiet)
    cflags="-I$SRC/include"
    libs="$target/release/libws_api.a -lssl -lcrypto -lpthread -ldl -lm -lrt"
  fi
  for p in echo_server echo_client; do
    # shellcheck disable=SC2086
    ${CC:-cc} -std=gnu99 -O2 -Wall -Wextra -Werror $cflags \
      "$SRC/examples/$p.c" -o "$OUT/bin/$p" $libs -lpthread
  done
}

cases_json() {
  # No pathname expansion: a case pattern like '*' or '1.*' is for wstest, not the shell.
  local - IFS=, c first=1
  set -f
  printf '['
  for c in $CASES; do
    [ $first = 1 ] || printf ', '
    printf '"%s"' "$c"
    first=0
  done
  printf ']'
}

free_port() {
  "$AB_HOME/py27/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until FILE contains PATTERN or process PID died.
wait_for() {
  local file=$1 pattern=$2 pid=$3 i
  for i in $(seq 1 300); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

run_server_side() {
  local dir="$OUT/server" port pid
  rm -rf "$dir" "$OUT/reports/server"
  mkdir -p "$dir"
  # echo_server runs until its stdin closes: fd 7 is its only writer.
  rm -f "$dir/stdin"
  mkfifo "$dir/stdin"
  "$OUT/bin/echo_server" 0 <"$dir/stdin" >"$dir/echo_server.out" 2>"$dir/echo_server.log" &
  pid=$!
  PIDS+=("$pid")
  exec 7>"$dir/stdin"
  wait_for "$dir/echo_server.out" '^PORT ' "$pid" || die "echo_server did not start: $(cat "$dir/echo_server.log")"
  port=$(sed -n 's/^PORT //p' "$dir/echo_server.out")
  cat >"$dir/fuzzingclient.json" <<EOF
{
  "outdir": "$OUT/reports/server",
  "servers": [{"agent": "ws_api", "url": "ws://127.0.0.1:$port"}],
  "cases": $(cases_json),
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
EOF
  log "server side: fuzzingclient -> echo_server on 127.0.0.1:$port (cases $CASES)"
  (cd "$dir" && timeout "$RUN_TIMEOUT" "$AB_HOME/py27/bin/python" "$SRC/tests/autobahn/wstest_loopback.py" \
      -u 0 -m fuzzingclient -s fuzzingclient.json >wstest.log 2>&1) \
    || die "fuzzingclient failed or timed out; see $dir/wstest.log"
  exec 7>&-
  wait "$pid" || log "echo_server exited with status $? (see $dir/echo_server.log)"
}

run_client_side() {
  local dir="$OUT/client" port pid rc=0
  rm -rf "$dir" "$OUT/reports/client"
  mkdir -p "$dir"
  port=$(free_port)
  cat >"$dir/fuzzingserver.json" <<EOF
{
  "url": "ws://127.0.0.1:$port",
  "outdir": "$OUT/reports/client",
  "cases": $(cases_json),
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
EOF
  (cd "$dir" && exec "$AB_HOME/py27/bin/python" "$SRC/tests/autobahn/wstest_loopback.py" \
      -u 0 -m fuzzingserver -s fuzzingserver.json >wstest.log 2>&1) &
  pid=$!
  PIDS+=("$pid")
  wait_for "$dir/wstest.log" 'Fuzzing Server (Port' "$pid" || die "fuzzingserver did not start; see $dir/wstest.log"
  log "client side: echo_client -> fuzzingserver on 127.0.0.1:$port (cases $CASES)"
  timeout "$RUN_TIMEOUT" "$OUT/bin/echo_client" 127.0.0.1 "$port" ws_api 2>"$dir/echo_client.log" || rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$rc" = 0 ] || die "echo_client failed (status $rc); see $dir/echo_client.log"
}

mkdir -p "$OUT"
install_suite
build_peers
[ -n "$SIDES" ] || exit 0
args=()
for side in $SIDES; do
  start=$(date +%s)
  "run_${side}_side"
  log "$side side took $(( $(date +%s) - start )) s"
  args+=("$side=$OUT/reports/$side")
done
python3 "$SRC/tests/autobahn/summary.py" --markdown "${args[@]}" >"$OUT/summary.md" || true
python3 "$SRC/tests/autobahn/summary.py" "${args[@]}" | tee "$OUT/summary.txt"
