#!/usr/bin/env bash
# CI: Autobahn|Testsuite, both directions at the same time (our server under wstest's
# fuzzingclient, our client under its fuzzingserver, built against the staged install; the echo
# peers compress, level 1): every case of groups 1-10 (9.* at full size), and of the
# permessage-deflate groups 12 and 13 every subgroup (each data set, each parameter offer and
# answer) with messages up to 16 KiB (cases *.*.1-7) and fragmented compressed messages
# (*.*.11: 8 KiB in 256-byte frames): 96 of the 216 cases per direction. The other 120 (1000
# messages of 32-128 KiB each, about 900 MB per subgroup through the suite's Python zlib) cost
# about 9 min of one core per direction: 42-autobahn-deflate-large.sh runs them (through this
# script, with AUTOBAHN_CASES) under a longer limit. The full set in one go is
# `scripts/autobahn.sh` (no arguments); results in docs/reliability.md.
# The two directions run at once (one wstest process each, about a core each: the suite's Python
# side is what takes the time, our peers use a few percent of a core). Each wstest run is
# bounded by AUTOBAHN_TIMEOUT (1800 s). Set AUTOBAHN_CASES to run other cases (`*`: all).
# Needs Python 2.7 from the machine image's pyenv (~/.pyenv/versions/2.7.*) and a Python 3 that
# can make a venv; python3-venv covers Debian's python3 in case pyenv's is missing.
# apt: python3-venv pkg-config
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
export AUTOBAHN_HOME=${AUTOBAHN_HOME:-$WS_API_OUT/venv}
ab=$WS_API_SRC/scripts/autobahn.sh
# Case ids, not patterns: the suite matches a pattern as a regular expression on a prefix, so
# 12.*.1 would also take 12.*.10-18.
deflate_cases=
for sub in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
  for c in 1 2 3 4 5 6 7 11; do
    deflate_cases+=",$sub.$c"
  done
done
cases=${AUTOBAHN_CASES:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*$deflate_cases}
start=$(date +%s)
# Installs the suite and builds the peers once, so the two runs below share them.
WS_API_OUT=$WS_API_OUT/prepare "$ab" --prepare
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
for side in server client; do
  WS_API_OUT=$WS_API_OUT/$side "$ab" --"$side"-only --cases "$cases" >"$WS_API_OUT/$side.log" 2>&1 &
  pids+=("$!")
done
rc=0
for p in "${pids[@]}"; do
  wait "$p" || rc=1
done
pids=()
for side in server client; do
  sed "s/^/[$side] /" "$WS_API_OUT/$side.log"
done
python3 "$WS_API_SRC/tests/autobahn/summary.py" --markdown \
  server="$WS_API_OUT/server/reports/server" client="$WS_API_OUT/client/reports/client" \
  >"$WS_API_OUT/summary.md" || true
echo "autobahn: both directions took $(( $(date +%s) - start )) s"
exit "$rc"
