#!/usr/bin/env bash
# CI: permessage-deflate interoperability with an implementation we did not write, Python's
# `websockets` (which negotiates permessage-deflate by default): it connects as a client that
# compresses to our server, and serves as an echo server that compresses to our client. The
# peer is tests/peers/deflate_peer.py; the Rust side is the two #[ignore]d `interop_*` tests of
# tests/deflate.rs. About 30 s (venv + pip + an incremental cargo test build).
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
PYTHON=$venv/bin/python cargo test --test deflate -- --ignored --exact \
  interop_python_client_compresses_to_our_server interop_our_client_compresses_to_python_server
