#!/bin/sh
# make check: runs the end-to-end tests (test_websocket.py) against the module built in this
# tree. Skips (77) when syslog-ng or Python's websockets package is missing; CI installs both
# (scripts/check.d/30-syslog-ng.sh). Environment, set by Makefile.am: WS_SNG_MODULE_DIR (the
# directory holding libwebsocket.so), WS_SNG_SRCDIR, WS_SNG_PYTHON; optional WS_SNG_TESTS (a
# space-separated subset of test names) and WS_SNG_WORKDIR (where each syslog-ng runs).
set -eu
: "${WS_SNG_MODULE_DIR:?}" "${WS_SNG_SRCDIR:?}"
py=${WS_SNG_PYTHON:-python3}
if ! command -v syslog-ng >/dev/null 2>&1; then
  echo "SKIP: syslog-ng is not installed"
  exit 77
fi
if ! "$py" -c 'import websockets.sync.server' 2>/dev/null; then
  echo "SKIP: $py has no 'websockets' package (>= 13): pip install websockets"
  exit 77
fi
export WS_SNG_WORKDIR="${WS_SNG_WORKDIR:-$(pwd)/tests/work}"
# shellcheck disable=SC2086 # WS_SNG_TESTS is a list of words
exec "$py" "$WS_SNG_SRCDIR/tests/test_websocket.py" "$WS_SNG_MODULE_DIR" ${WS_SNG_TESTS:-}
