#!/usr/bin/env bash
# scripts/demo.sh: the main job, end to end, on a fresh Debian machine.
#
#   scripts/demo.sh                 # interactive: lines flow until Ctrl-C
#   scripts/demo.sh --count 20      # (or DEMO_LINES=20, or no terminal) stops by itself
#
# 1. installs the missing Debian packages (apt-get; as root, or through password-less sudo);
# 2. builds ws_api with autotools and installs it into _build/demo-prefix
#    (autoreconf -fi; configure --prefix=$PWD/_build/demo-prefix; make; make install,
#    built out of the source tree in _build/demo so that scripts/check.sh still finds the
#    source tree unconfigured);
# 3. builds the samples (examples/) against that prefix with pkg-config;
# 4. runs the path log lines take:
#    - with the syslog-ng module built and syslog-ng installed: lines sent with logger(1) to a
#      syslog-ng unix-dgram source go out through syslog-ng's websocket() destination in
#      server mode, and a subscriber (ws_log_client --subscribe) prints them;
#    - otherwise (or with --samples): ws_log_client sends lines to ws_log_server (--relay),
#      which prints them and passes them on to every subscriber: a ws_log_client that prints
#      them, and any browser that opens the printed URL.
#
# Options: --count N (lines, then stop), --port P (default: any free port), --samples (the
# sample server even when syslog-ng is there), --no-install, --no-build (use the prefix as it
# is), --prefix DIR (use ws_api already installed there; implies --no-build), --help.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$WS_ROOT
cd "$root"

prefix=$root/_build/demo-prefix
builddir=$root/_build/demo
count=${DEMO_LINES:-}
port=
force_samples=0
do_install=1
do_build=1

usage () {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

while test $# -gt 0; do
  case $1 in
    --count) count=${2:?--count needs a number}; shift 2 ;;
    --count=*) count=${1#*=}; shift ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --port=*) port=${1#*=}; shift ;;
    --samples) force_samples=1; shift ;;
    --no-install) do_install=0; shift ;;
    --no-build) do_build=0; shift ;;
    --prefix) prefix=${2:?--prefix needs a directory}; do_build=0; shift 2 ;;
    --prefix=*) prefix=${1#*=}; do_build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case ${count:-x} in
  x) ;;
  *[!0-9]*|0) ws_die "--count/DEMO_LINES wants a positive number, not '$count'" ;;
esac
case ${port:-x} in
  x) ;;
  *[!0-9]*) ws_die "--port wants a number, not '$port'" ;;
esac

# Absolute, as it goes into PKG_CONFIG_PATH and syslog-ng's module path.
if test -d "$prefix"; then
  prefix=$(cd "$prefix" && pwd)
fi

# Interactive (a terminal, no count): lines flow until Ctrl-C. Otherwise a bounded run.
interactive=0
if test -z "$count"; then
  if test -t 0 && test -t 1; then
    interactive=1
  else
    count=20
  fi
fi

have_module_source () {
  test -f "$root/modules/websocket/module.m4"
}

# ---- 1. packages ------------------------------------------------------------------------

if test $do_install = 1; then
  ws_section "Packages"
  pkgs=(build-essential autoconf automake libtool pkg-config libssl-dev bsdutils)
  # syslog-ng (and its headers, for the module) only when the module is part of the tree;
  # whichever version the distribution has (3.38 on Debian 12, 4.8 on Debian 13, whose
  # headers also need json-c's).
  if have_module_source; then
    pkgs+=(syslog-ng-core syslog-ng-dev bison python3 libjson-c-dev)
  fi
  ws_apt_install "${pkgs[@]}" || ws_die "could not install: ${pkgs[*]} (run as root, or install them first)"
  command -v cargo >/dev/null || ws_die "cargo not found: install the Rust toolchain (https://rustup.rs)"
fi

# ---- 2. the library ---------------------------------------------------------------------

if test $do_build = 1; then
  ws_section "Building ws_api into $prefix"
  jobs=$(ws_jobs)
  (
    set -x
    autoreconf -fi
    mkdir -p "$builddir"
    cd "$builddir"
    # configure once; make rebuilds what changed on later runs.
    if ! test -f Makefile || test "$root/configure" -nt config.status; then
      "$root/configure" --prefix="$prefix" --disable-c-tests
    fi
    make -j"$jobs"
    make install
  )
fi
test -f "$prefix/lib/pkgconfig/ws_api.pc" || ws_die "no ws_api in $prefix: run without --no-build"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}

# ---- 3. the samples ---------------------------------------------------------------------

ws_section "Building the samples against $prefix"
bindir=$builddir/examples
mkdir -p "$bindir"
make -C "$bindir" -f "$root/examples/Makefile" --no-print-directory
server_bin=$bindir/ws_log_server
client_bin=$bindir/ws_log_client

# ---- 4. the run -------------------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ws-demo.XXXXXX")
pids=()
printers=()

# shellcheck disable=SC2317  # run by the traps
cleanup () {
  local pid
  trap - EXIT INT TERM
  # The programs stop cleanly on SIGTERM (their queues drain, connections close with 1001).
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for pid in "${printers[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "demo: stopping (Ctrl-C)"; cleanup; exit 0' INT TERM

# start NAME COMMAND...: runs COMMAND in the background with stdout and stderr going to a
# fifo; the caller reads it on file descriptor ${fd[NAME]} (see await and print_rest), and
# ${pid[NAME]} is its process.
# With START_STDIN=FILE, COMMAND reads that file (a fifo) instead of /dev/null.
declare -A fd pid
start () {
  local name=$1 f newfd
  shift
  f=$tmp/$name.fifo
  mkfifo "$f"
  "$@" < "${START_STDIN:-/dev/null}" > "$f" 2>&1 &
  pids+=($!)
  pid[$name]=$!
  exec {newfd}< "$f"
  fd[$name]=$newfd
}

# await NAME REGEX SECONDS: prints NAME's lines until one matches REGEX (it is left in
# $matched); fails when the program ends or SECONDS pass first.
matched=
await () {
  local name=$1 re=$2 limit=$3 line end=$((SECONDS + $3))
  while test $SECONDS -lt $end; do
    if ! IFS= read -r -t $((end - SECONDS + 1)) -u "${fd[$name]}" line; then
      break
    fi
    printf '[%s] %s\n' "$name" "$line"
    if [[ $line =~ $re ]]; then
      matched=$line
      return 0
    fi
  done
  ws_die "$name: no line matching '$re' within ${limit}s"
}

# print_rest NAME: prints the rest of NAME's output, prefixed, in the background.
print_rest () {
  local name=$1 oldfd=${fd[$1]}
  sed -u "s/^/[$name] /" <&"$oldfd" &
  printers+=($!)
  exec {oldfd}<&-
}

# The lines the demo sends: syslog-looking, with a few severities so the page shows colours.
# It paces them (a demo to watch, not a benchmark).
produce () {
  local n=$1 i=1 msgs sev
  msgs=("user admin logged in from 127.0.0.1" "disk /var is 81% full" "backup finished in 42 s"
        "payment worker failed: connection refused" "cache warmed: 1280 keys"
        "request GET /api/orders answered in 12 ms")
  sev=(5 4 6 3 7 6)
  while test "$n" = 0 || test $i -le "$n"; do
    printf '%s|demo line %d: %s\n' "${sev[$((i % 6))]}" "$i" "${msgs[$((i % 6))]}"
    test $i = "$n" || sleep "${DEMO_INTERVAL:-0.5}"
    i=$((i + 1))
  done
}


lines=${count:-0}
# In a bounded run the subscriber stops after the expected number of lines, and gives up
# (failing the demo) if they do not all come within a minute more than the sending takes.
sub_limit=()
sub_timeout=()
if test $interactive = 0; then
  sub_limit=(--max-receive "$count")
  sub_timeout=(timeout "$(( count + 60 ))")
fi

syslog_ng_path () {
  local sng moddir sysmoddir version conf sock
  sng=$(command -v syslog-ng)
  # Our module's directory first, then syslog-ng's own (the unix-dgram source lives there).
  sysmoddir=$("$sng" --version | sed -n 's/^Module-Directory: *//p')
  version=$("$sng" --version | sed -n 's/^Config version: *//p')
  moddir=$(find "$prefix" -name 'libwebsocket*.so' -printf '%h\n' 2>/dev/null | head -n 1)
  sock=$tmp/log.sock
  conf=$tmp/syslog-ng.conf
  cat > "$conf" <<EOF
@version: ${version:-3.35}
# A unix-dgram source for logger(1), and a websocket() destination in server mode that
# subscribers (ws_log_client --subscribe, a browser) connect to.
source s_demo { unix-dgram("$sock"); };
destination d_ws {
  websocket(mode(server) address("127.0.0.1") port(${port:-0}) index-html("$root/examples/index.html")
            template("<\${PRI}>\${DATE} \${HOST} \${MSGHDR}\${MESSAGE}"));
};
log { source(s_demo); destination(d_ws); };
EOF
  ws_section "logger -> syslog-ng -> websocket() destination (server mode) -> subscriber"
  echo "syslog-ng config ($conf):"
  sed 's/^/    /' "$conf"
  start syslog-ng "$sng" -F -e -v -f "$conf" --module-path="$moddir${sysmoddir:+:$sysmoddir}" \
    -R "$tmp/syslog-ng.persist" -p "$tmp/syslog-ng.pid" -c "$tmp/syslog-ng.ctl"
  # -v: syslog-ng then logs the port the destination bound (port(0) picks a free one).
  await syslog-ng "websocket: destination started.*port='[0-9]+'" 30
  port=${matched##*port=\'}
  port=${port%%\'*}
  await syslog-ng 'syslog-ng starting up' 30
  print_rest syslog-ng
  start subscriber "${sub_timeout[@]}" "$client_bin" --port "$port" --subscribe --raw "${sub_limit[@]}"
  await subscriber 'connected to' 30
  print_rest subscriber
  banner "ws://127.0.0.1:$port/" "http://127.0.0.1:$port/"
  produce "$lines" | while IFS='|' read -r sev text; do
    printf '[logger] user.%s: %s\n' "$(sev_name "$sev")" "$text"
    logger -u "$sock" -p "user.$(sev_name "$sev")" -t demo "$text"
  done &
  pids+=($!)
  pid[producer]=$!
}

sev_name () {
  case $1 in 3) echo err ;; 4) echo warning ;; 5) echo notice ;; 6) echo info ;; *) echo debug ;; esac
}

samples_path () {
  start server "$server_bin" --address 127.0.0.1 --port "${port:-0}" --relay --no-stdin
  await server 'listening on .* port [0-9]+$' 30
  port=${matched##* }
  await server 'browser page' 5
  print_rest server
  start subscriber "${sub_timeout[@]}" "$client_bin" --port "$port" --subscribe --raw "${sub_limit[@]}"
  await subscriber 'connected to' 30
  print_rest subscriber
  banner "ws://127.0.0.1:$port/" "http://127.0.0.1:$port/"
  # The sender: ws_log_client reading syslog-style lines from a fifo; at the end of its input
  # it waits until its queue is sent, prints its counters and exits (1 if any line is unsent).
  mkfifo "$tmp/lines"
  produce "$lines" | while IFS='|' read -r sev text; do
    printf '<%d>%s %s demo[%d]: %s\n' $((8 + sev)) "$(LC_ALL=C date '+%b %e %H:%M:%S')" \
      "$(uname -n)" $$ "$text"
  done > "$tmp/lines" &
  pids+=($!)
  pid[producer]=$!
  START_STDIN=$tmp/lines start sender "$client_bin" --port "$port"
  print_rest sender
}

banner () {
  cat <<EOF

=====================================================================================
  Log lines are flowing over WebSocket ($1).
  Open $2 in a browser to watch them live.
  $(if test $interactive = 1; then echo "Press Ctrl-C to stop."; else echo "Bounded run: stops after $count lines."; fi)
=====================================================================================

EOF
}

use_syslog_ng=0
if test $force_samples = 0 && have_module_source && command -v syslog-ng >/dev/null \
   && test -n "$(find "$prefix" -name 'libwebsocket*.so' 2>/dev/null | head -n 1)"; then
  use_syslog_ng=1
fi

if test $use_syslog_ng = 1; then
  syslog_ng_path
else
  if test $force_samples = 0; then
    echo "demo: the syslog-ng module is not built (or syslog-ng is not installed): showing the sample server"
  fi
  ws_section "ws_log_client -> ws_log_server (--relay) -> subscriber and browsers"
  samples_path
fi

if test $interactive = 1; then
  # Until Ctrl-C (the INT trap cleans up); the subscriber ends only if something failed.
  wait "${pids[@]}" || true
  exit 0
fi

# Bounded run: every line produced, then sent (the sender's status says nothing is left
# unsent), then received by the subscriber (it exits once it printed $count lines, or fails
# when its timeout hits).
wait "${pid[producer]}" || true
if test -n "${pid[sender]:-}" && ! wait "${pid[sender]}"; then
  ws_die "the sender did not send every line (see above)"
fi
if wait "${pid[subscriber]}"; then
  echo
  echo "demo: the subscriber received all $count lines: done"
  exit 0
fi
ws_die "the subscriber did not receive the $count lines (see above)"
