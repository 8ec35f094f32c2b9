#!/usr/bin/env bash
# CI: the syslog-ng websocket() module (modules/websocket) inside real syslog-ng 3.38 processes.
#  1. the module installed by `make install` (built in the tree against the just-built
#     libws_api.a) runs the whole end-to-end suite (modules/websocket/tests/test_websocket.py:
#     client/server destination, source with a 10,000-message burst, TLS, server down 5 s,
#     reload/restart, bad configurations);
#  2. the module is built again out of tree with modules/websocket/standalone.mk against the
#     staged install only (pkg-config --static ws_api), and that build passes the core tests.
# About 30 s (most of it the venv and pip).
# apt: syslog-ng-core syslog-ng-dev bison python3-venv openssl
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_PREFIX:?}" "${WS_API_OUT:?}"

venv=$WS_API_OUT/venv
if ! "$venv/bin/python" -c 'import websockets.sync.server' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'websockets>=13'
fi
"$venv/bin/python" -c 'import websockets; print("websockets", websockets.__version__)'
syslog-ng --version | head -n 2

tests=$WS_API_SRC/modules/websocket/tests/test_websocket.py
installed=$(pkg-config --define-variable=prefix="$WS_API_PREFIX" --variable=moduledir syslog-ng)
if test ! -f "$installed/libwebsocket.so"; then
  echo "error: make install did not install $installed/libwebsocket.so (was syslog-ng-dev missing at configure time?)" >&2
  exit 1
fi

rc=0
echo "== 1. installed module: $installed"
WS_SNG_WORKDIR=$WS_API_OUT/installed "$venv/bin/python" "$tests" "$installed" || rc=1

echo "== 2. standalone build against the staged install (pkg-config --static ws_api)"
pkg-config --cflags --libs --static ws_api
build=$WS_API_OUT/standalone
make -s -f "$WS_API_SRC/modules/websocket/standalone.mk" O="$build" PYTHON=python3
WS_SNG_WORKDIR=$WS_API_OUT/standalone-tests "$venv/bin/python" "$tests" "$build" \
  test_a_dest_client test_c_source_to_file test_g_bad_configs || rc=1
exit $rc
