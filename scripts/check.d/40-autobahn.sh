#!/usr/bin/env bash
# CI: Autobahn|Testsuite, every case (groups 1-13, 517 per direction, 9.* at full size), both
# directions: our server under wstest's fuzzingclient, our client under its fuzzingserver,
# built against the staged install. Measured: ~17 s + ~28 s of cases plus ~60 s to install the
# suite; permessage-deflate (12, 13) is refused at once, so it costs nothing. Each wstest run is
# bounded by AUTOBAHN_TIMEOUT (900 s). `scripts/autobahn.sh --quick` is the reduced set.
# Needs Python 2.7 from the machine image's pyenv (~/.pyenv/versions/2.7.*) and a Python 3 that
# can make a venv; python3-venv covers Debian's python3 in case pyenv's is missing.
# apt: python3-venv pkg-config
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
export AUTOBAHN_HOME=${AUTOBAHN_HOME:-$WS_API_OUT/venv}
exec "$WS_API_SRC/scripts/autobahn.sh"
