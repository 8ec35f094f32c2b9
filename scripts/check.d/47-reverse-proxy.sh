#!/usr/bin/env bash
# CI: our server behind Debian's real nginx (tests/reverse_proxy.rs). nginx terminates TLS
# with a certificate made at test time and proxies WebSocket to our plain server on
# 127.0.0.1; our wss client goes through it; the server takes the client's address from
# X-Forwarded-For only when 127.0.0.1 is a trusted proxy, a client cannot spoof it, and
# pings keep the proxied connection open past nginx's proxy_read_timeout. Here the tests must
# not skip: WS_REQUIRE_NGINX=1 turns a missing nginx into a failure. About 10 s on top of an
# incremental cargo test build. (The browser through nginx is in check.d/50-browser.sh.)
# apt: nginx openssl
set -euo pipefail
: "${WS_API_SRC:?}" "${WS_API_OUT:?}"
cd "$WS_API_SRC"
# check.sh exports CARGO_TARGET_DIR (the build's cache); on its own the script uses its own.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WS_API_OUT/target}
WS_REQUIRE_NGINX=1 cargo test --test reverse_proxy
