#!/usr/bin/env bash
# check.d/50-browser.sh: the samples (examples/) built against the installed library, their
# command-line behaviour, a real-browser test of examples/index.html (served by ws_log_server,
# then through Debian's nginx as a reverse proxy, then by syslog-ng's websocket() destination
# when the module is installed), and a bounded run of scripts/demo.sh against the installed
# library.
#
# apt: chromium syslog-ng-core nginx
#
# Node.js and npm come with the machine (CI's base image); playwright-core (pinned in
# examples/test/package-lock.json) is installed into examples/test/node_modules and drives
# Debian's /usr/bin/chromium, so no browser is downloaded.
#
# Environment (set by scripts/check.sh): WS_API_SRC, WS_API_PREFIX, PKG_CONFIG_PATH, WS_API_OUT.
# WS_UPDATE_SCREENSHOT=1 also copies the page's screenshot to docs/samples-page.png.
set -euo pipefail

src=${WS_API_SRC:?WS_API_SRC is not set}
out=${WS_API_OUT:?WS_API_OUT is not set}
: "${WS_API_PREFIX:?WS_API_PREFIX is not set}"
export PKG_CONFIG_PATH=${PKG_CONFIG_PATH:-$WS_API_PREFIX/lib/pkgconfig}

chromium_bin=${CHROMIUM:-/usr/bin/chromium}
nginx_bin=${NGINX:-/usr/sbin/nginx}
for tool in make cc pkg-config node npm; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 1; }
done
test -x "$chromium_bin" || { echo "error: $chromium_bin not found (apt-get install chromium)" >&2; exit 1; }
test -x "$nginx_bin" || { echo "error: $nginx_bin not found (apt-get install nginx)" >&2; exit 1; }

echo "== building examples against $WS_API_PREFIX"
build=$out/build
mkdir -p "$build"
# Out of the source tree, so make distcheck never sees built programs.
make -C "$build" -f "$src/examples/Makefile"

echo "== command-line tests"
node "$src/examples/test/cli-test.mjs" --bin "$build" --out "$out/cli"

echo "== browser test"
(cd "$src/examples/test" && npm ci --no-audit --no-fund --loglevel=error)
shot_args=()
if test "${WS_UPDATE_SCREENSHOT:-0}" = 1; then
  shot_args=(--screenshot "$src/docs/samples-page.png")
fi
# The syslog-ng part needs the module (installed under the prefix) and syslog-ng itself.
sng_args=()
module=$(find "$WS_API_PREFIX" -name libwebsocket.so -print -quit 2>/dev/null || true)
if test -n "$module" && command -v syslog-ng >/dev/null; then
  sng_args=(--syslog-ng-module-dir "$(dirname "$module")")
else
  echo "note: no syslog-ng websocket module under $WS_API_PREFIX (or no syslog-ng): the page is tested with ws_log_server only"
fi
timeout --kill-after=10 240 node "$src/examples/test/browser-test.mjs" \
  --server "$build/ws_log_server" --index "$src/examples/index.html" \
  --out "$out" --chromium "$chromium_bin" --nginx "$nginx_bin" "${shot_args[@]}" "${sng_args[@]}"

echo "== scripts/demo.sh, bounded, against $WS_API_PREFIX"
# What the README's main command runs once the library is built (the build itself is what
# scripts/check.sh just did): lines from a sender arrive at a subscriber; exit 0 only if all do.
DEMO_INTERVAL=0.1 timeout --kill-after=10 120 \
  "$src/scripts/demo.sh" --count 5 --no-install --prefix "$WS_API_PREFIX" </dev/null
