#!/usr/bin/env bash
# CI: the permessage-deflate cases of Autobahn|Testsuite that 40-autobahn.sh leaves out, so that
# CI runs all 216 cases of groups 12 and 13 in both directions (issue 14): in every subgroup
# (12.1-12.5, 13.1-13.7) the cases with 1000 messages of 32-128 KiB (*.*.8-10 and *.*.12-18),
# 120 per direction. Nearly all the time is the suite's own Python zlib (about 9 min of one core
# per direction; our echo peers use a few percent of a core), so the two directions run at once
# (40-autobahn.sh does that) and this step may take longer than the default limit of a check.d
# script:
# timeout: 1500
# apt: python3-venv pkg-config
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
cases=
for sub in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
  for c in 8 9 10 12 13 14 15 16 17 18; do
    cases+="${cases:+,}$sub.$c"
  done
done
AUTOBAHN_CASES=$cases exec "$WS_API_SRC/scripts/check.d/40-autobahn.sh"
