#!/usr/bin/env bash
# CI: clients through Debian's real HTTP CONNECT proxy, tinyproxy (tests/proxy.rs), started by
# each test on 127.0.0.1 with its own configuration: ws:// and wss:// (the certificate checked
# against the server's own name) through the tunnel, 407 without credentials and success with
# them, 403 for a refused port, and http_proxy/no_proxy from the environment. Here the tests
# must not skip: WS_REQUIRE_TINYPROXY=1 turns a missing tinyproxy into a failure. About 3 s on
# top of an incremental cargo test build.
# apt: tinyproxy openssl
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
cd "$WS_API_SRC"
# check.sh exports CARGO_TARGET_DIR (the build's cache); on its own the script uses its own.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WS_API_OUT/target}
WS_REQUIRE_TINYPROXY=1 cargo test --test proxy
