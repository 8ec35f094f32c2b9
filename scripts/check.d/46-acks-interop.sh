#!/usr/bin/env bash
# CI: end-to-end acknowledgements (docs/acks.md) against a peer we did not write, Python's
# `websockets`: the ~20-line server printed in docs/acks.md, extracted from the page as it
# stands (so the documentation cannot rot), is killed with SIGKILL mid-stream and restarted
# while our client streams 3000 messages (every message must arrive at least once); and the
# mismatches (our ack client against a plain websockets server, our plain client against the
# ack server); the kill again with our client compressing (permessage-deflate: the resends are
# compressed again by the new connection, websockets inflates them strictly); and a Python
# deflate subscriber replaying (tests/combined.rs). The Rust side is the #[ignore]d `python_*`
# tests of tests/acks.rs and tests/combined.rs. About 25 s with the venv already made by
# 45-tls-interop.sh.
# apt: python3-venv
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
# shellcheck source=scripts/lib.sh
. "$WS_API_SRC/scripts/lib.sh"
venv=$WS_API_OUT/venv
ws_websockets_venv "$venv"
cd "$WS_API_SRC"
# check.sh exports CARGO_TARGET_DIR (the build's cache); on its own the script uses its own.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WS_API_OUT/target}
PYTHON=$venv/bin/python cargo test --test acks -- --ignored --exact \
  python_example_server_from_the_docs \
  python_example_server_from_the_docs_with_compression \
  python_servers_with_and_without_acks_against_clients_with_and_without
# The features together (tests/combined.rs): a deflate replay subscriber in Python.
PYTHON=$venv/bin/python cargo test --test combined -- --ignored --exact \
  python_deflate_subscriber_replays_next_to_a_plain_one_during_fast_broadcasts
