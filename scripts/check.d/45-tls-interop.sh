#!/usr/bin/env bash
# CI: wss interoperability with an implementation we did not write, Python's `websockets`:
# it connects as a wss client (verifying our chain and host name, presenting a client
# certificate) to our server, and serves as a wss server (requiring our client certificate,
# reporting the SNI name it got) for our client. The peers are tests/peers/wss_*.py; the Rust
# side is the two #[ignore]d `interop_*` tests of tests/tls.rs. Certificates are made at test
# time by tests/peers/mkcerts.sh. About 30 s (venv + pip + an incremental cargo test build).
# apt: python3-venv openssl
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
# shellcheck source=scripts/lib.sh
. "$WS_API_SRC/scripts/lib.sh"
venv=$WS_API_OUT/venv
ws_websockets_venv "$venv"
cd "$WS_API_SRC"
# check.sh exports CARGO_TARGET_DIR (the build's cache); on its own the script uses its own.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WS_API_OUT/target}
PYTHON=$venv/bin/python cargo test --test tls -- --ignored --exact \
  interop_python_client_against_our_server interop_our_client_against_python_server
