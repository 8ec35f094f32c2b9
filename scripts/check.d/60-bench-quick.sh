#!/usr/bin/env bash
# 60-bench-quick.sh: runs every benchmark scenario with tiny sizes (scripts/bench.sh --quick)
# against the staged install (scenario 8 with the staged syslog-ng module, one short run of each
# path), so the benchmark programs keep building and working. It fails
# when a program fails, times out or loses a message, never because of speed.
# apt: libwebsockets-dev python3 pkg-config syslog-ng-core
set -euo pipefail

: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
pkg-config --exists ws_api || { echo "error: ws_api.pc not found (PKG_CONFIG_PATH=${PKG_CONFIG_PATH:-})" >&2; exit 1; }
BENCH_OUT=$WS_API_OUT exec timeout 300 "$WS_API_SRC/scripts/bench.sh" --quick
