#!/usr/bin/env bash
# CI: the syslog-ng websocket() module (modules/websocket) inside real syslog-ng 3.38 processes
# (this machine's, Debian 12). 31-syslog-ng-4.sh runs the same suite against Debian 13's 4.8.1.
#  1. the module is built out of tree with modules/websocket/standalone.mk against the staged
#     install only (pkg-config --static ws_api), and that build passes the core tests;
#  2. the module installed by `make install` (built in the tree against the just-built
#     libws_api.a) runs the whole end-to-end suite (modules/websocket/tests/test_websocket.py:
#     client/server destination, workers(), source in server and client mode with flow control,
#     TLS, server down 5 s, disk buffer, reload/restart, bad configurations, metrics);
#  3. the chaos test (modules/websocket/tests/test_chaos.py: two syslog-ng processes, kill -9
#     while 200,000 lines flow; ends with `syslog-ng 3.38.1 chaos: N passed, M failed`).
# Prints `syslog-ng 3.38.1: N passed, M failed` (the whole suite, step 2), then ends with
# `syslog-ng 3.38.1 chaos: N passed, M failed` (step 3).
# About 40 s (most of it the venv and pip), plus about 20 s for the chaos test.
# apt: syslog-ng-core syslog-ng-dev bison python3-venv openssl tinyproxy
set -euo pipefail
# test_o (proxy()) starts tinyproxy (on this machine): here a missing one is a failure.
export WS_REQUIRE_TINYPROXY=1
: "${WS_API_SRC:?}" "${WS_API_PREFIX:?}" "${WS_API_OUT:?}"
# shellcheck source=scripts/lib.sh
. "$WS_API_SRC/scripts/lib.sh"

venv=$WS_API_OUT/venv
ws_websockets_venv "$venv"
syslog-ng --version | head -n 2

tests=$WS_API_SRC/modules/websocket/tests/test_websocket.py
installed=$(pkg-config --define-variable=prefix="$WS_API_PREFIX" --variable=moduledir syslog-ng)
if test ! -f "$installed/libwebsocket.so"; then
  echo "error: make install did not install $installed/libwebsocket.so (was syslog-ng-dev missing at configure time?)" >&2
  exit 1
fi

rc=0
echo "== 1. standalone build against the staged install (pkg-config --static ws_api)"
pkg-config --cflags --libs --static ws_api
build=$WS_API_OUT/standalone
make -s -f "$WS_API_SRC/modules/websocket/standalone.mk" O="$build" PYTHON=python3
WS_SNG_LABEL="standalone build, core tests" WS_SNG_WORKDIR=$WS_API_OUT/standalone-tests \
  "$venv/bin/python" "$tests" "$build" test_a_dest_client test_c_source_to_file test_g_bad_configs || rc=1
echo "== 2. the whole suite, installed module: $installed"
WS_SNG_WORKDIR=$WS_API_OUT/installed "$venv/bin/python" "$tests" "$installed" \
  | tee "$WS_API_OUT/installed.log" || rc=1

# The whole suite's summary is the last line; say so when it died before printing it.
grep -qE '^syslog-ng [0-9.]+: ' "$WS_API_OUT/installed.log" ||
  echo "syslog-ng $(syslog-ng --version | sed -n 's/^Installer-Version: *//p'): the suite did not finish"
echo "== 3. chaos (issue 13): two syslog-ng processes, 200,000 lines, kill -9 of B x3 and A x1"
WS_SNG_WORKDIR=$WS_API_OUT/chaos "$venv/bin/python" "$WS_API_SRC/modules/websocket/tests/test_chaos.py" \
  "$installed" || rc=1
exit $rc
