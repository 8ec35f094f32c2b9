#!/usr/bin/env bash
# CI: the syslog-ng websocket() module inside real syslog-ng 4.8.1 processes (Debian 13's own
# binaries), on this Debian 12 machine:
#  1. a Debian 13 (trixie) root with syslog-ng-core, syslog-ng-dev and a compiler, made with
#     debootstrap and cached in $WS_SNG4_CACHE (default /var/cache/ws_api), keyed by the
#     package list: rebuilt when missing, incomplete or the key changed (about 1-3 minutes,
#     650 MB); a root is only used once debootstrap finished (it is built aside, then renamed);
#  2. the module built inside that root (Debian 13's headers and gcc) with
#     modules/websocket/standalone.mk against the staged ws_api (pkg-config --static ws_api: the
#     static library built here, linked into a module for a newer glibc);
#  3. ./configure run inside the root finds syslog-ng 4.8 and json-c, and the module built in that
#     autotools tree installs into /usr/lib/syslog-ng/4.8 (DESTDIR);
#  4. the whole end-to-end suite (modules/websocket/tests/test_websocket.py, TLS included), the
#     Python peers on this machine, syslog-ng run as `chroot ROOT syslog-ng ...` (same loopback).
#  5. the chaos test (modules/websocket/tests/test_chaos.py, about 20 s): two syslog-ng 4.8.1
#     processes, kill -9 while 200,000 lines flow.
# Everything runs in a private mount namespace (unshare -m): the bind mounts of the source tree,
# the staged install and WS_API_OUT into the root (at the same paths, so that every path a test
# writes into a configuration means the same file inside the root) vanish with it.
# Prints `syslog-ng 4.8.1: N passed, M failed` (the suite), then ends with
# `syslog-ng 4.8.1 chaos: N passed, M failed`. About 1.5 minutes with a cached
# root.
# apt: debootstrap python3-venv openssl tinyproxy
set -euo pipefail
# test_o (proxy()) starts tinyproxy (on this machine): here a missing one is a failure.
export WS_REQUIRE_TINYPROXY=1
: "${WS_API_SRC:?}" "${WS_API_PREFIX:?}" "${WS_API_OUT:?}"
# shellcheck source=scripts/lib.sh
. "$WS_API_SRC/scripts/lib.sh"

if test "$(id -u)" != 0; then
  echo "error: needs root (debootstrap, chroot, mount)" >&2
  exit 1
fi

# Re-run in a private mount namespace, so no mount outlives this script (even when killed).
if test -z "${WS_SNG4_IN_NAMESPACE:-}"; then
  export WS_SNG4_IN_NAMESPACE=1
  exec unshare --mount --propagation private -- "$0" "$@"
fi

cache=${WS_SNG4_CACHE:-/var/cache/ws_api}
suite=trixie
mirror=${WS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the root needs: syslog-ng and its headers, and what builds the module (gcc, make,
# pkg-config, bison and python3 for the grammar, json-c's and OpenSSL's headers).
packages=syslog-ng-core,syslog-ng-dev,gcc,libc6-dev,make,pkgconf,bison,python3,libjson-c-dev,libssl-dev
key=$(printf '%s\n' "$suite" "$mirror" "$packages" minbase | sha256sum | cut -c1-12)
root=$cache/$suite-$key

# The root is built aside and renamed once debootstrap succeeded: a half-built root (a failed
# or killed run) is never taken for a finished one. One build at a time (flock).
build_root () {
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if test -f "$root/.ws_api-root-complete"; then
    echo "Debian 13 root: $root (cached)"
  else
    local tmp=$cache/.building-$suite-$key t0=$SECONDS
    rm -rf "$tmp" "$root"
    echo "Debian 13 root: building $root (debootstrap --variant=minbase $suite, $packages)"
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$tmp" "$mirror" \
         > "$WS_API_OUT/debootstrap.log" 2>&1; then
      tail -n 30 "$WS_API_OUT/debootstrap.log" >&2
      rm -rf "$tmp"
      echo "error: debootstrap failed (log: $WS_API_OUT/debootstrap.log)" >&2
      return 1
    fi
    date -u > "$tmp/.ws_api-root-complete"
    mv "$tmp" "$root"
    echo "built in $(( SECONDS - t0 ))s"
    # Roots made for another package list are of no further use.
    find "$cache" -maxdepth 1 -name "$suite-*" ! -name "$suite-$key" -exec rm -rf {} +
  fi
  flock -u 9
}

# Binds a host directory into the root at the same path.
bind () {
  mkdir -p "$root$1"
  mount --bind "$1" "$root$1"
}

build_root
# Network names are not needed (the tests use 127.0.0.1), but syslog-ng looks up its own name.
cp /etc/resolv.conf /etc/hosts "$root/etc/" 2>/dev/null || true
mount -t proc proc "$root/proc"
bind "$WS_API_SRC"
bind "$WS_API_PREFIX"
bind "$WS_API_OUT"

sng_version=$(chroot "$root" syslog-ng --version | sed -n 's/^Installer-Version: *//p')
echo "syslog-ng in the root: $sng_version"

echo "== module: standalone.mk inside the root, against the staged ws_api"
module=$WS_API_OUT/module
chroot "$root" env PKG_CONFIG_PATH="$WS_API_PREFIX/lib/pkgconfig" \
  pkg-config --cflags --libs --static ws_api
chroot "$root" env PKG_CONFIG_PATH="$WS_API_PREFIX/lib/pkgconfig" \
  make -s -f "$WS_API_SRC/modules/websocket/standalone.mk" O="$module" PYTHON=python3
# The module is linked with -z defs, so it resolved every symbol against Debian 13's libraries;
# what it needs from glibc:
objdump -T "$module/libwebsocket.so" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1 |
  sed 's/^/newest glibc symbol version the module needs: /'

echo "== ./configure inside the root: finds syslog-ng 4.8, builds the module in the autotools tree"
# The root has no Rust toolchain: the autotools tree gets the staged static library where its
# own cargo build would have put it, and only modules/websocket is built there.
cfg=$WS_API_OUT/configure-build
mkdir -p "$cfg/target/release"
cp "$WS_API_PREFIX/lib/libws_api.a" "$cfg/target/release/"
pkg-config --static --libs-only-l ws_api | sed 's/-lws_api *//' > "$cfg/native-static-libs.txt"
chroot "$root" sh -c "cd '$cfg' && CARGO=/bin/true '$WS_API_SRC/configure' --prefix=/usr --disable-c-tests \
    --with-syslog-ng=yes > configure.log && make -s -C modules/websocket > make.log 2>&1 &&
  make -s -C modules/websocket install DESTDIR='$cfg/destdir' >> make.log 2>&1" || {
  tail -n 20 "$cfg/configure.log" "$cfg/make.log" >&2
  exit 1
}
grep -E 'syslog-ng the module is built for|where to install the syslog-ng module' "$cfg/configure.log"
test -f "$cfg/destdir/usr/lib/syslog-ng/4.8/libwebsocket.so" || {
  echo "error: make install did not put libwebsocket.so into /usr/lib/syslog-ng/4.8" >&2
  exit 1
}
echo "installed: /usr/lib/syslog-ng/4.8/libwebsocket.so (under DESTDIR)"

venv=$WS_API_OUT/venv
ws_websockets_venv "$venv"

echo "== the whole suite against syslog-ng $sng_version"
mkdir -p "$WS_API_OUT/tmp"
rc=0
# TMPDIR: where sngtest.py puts control sockets when a path would be too long; it must be
# inside a bound directory too.
WS_SNG_PREFIX="chroot $root" TMPDIR=$WS_API_OUT/tmp WS_SNG_WORKDIR=$WS_API_OUT/tests \
  "$venv/bin/python" "$WS_API_SRC/modules/websocket/tests/test_websocket.py" "$module" \
  | tee "$WS_API_OUT/tests.log" || rc=1
# The suite's last line is the summary; say so when it died before printing it.
grep -q "^syslog-ng $sng_version: " "$WS_API_OUT/tests.log" ||
  echo "syslog-ng $sng_version: the suite did not finish"
echo "== chaos (issue 13): two syslog-ng $sng_version processes, 200,000 lines, kill -9 of B x3 and A x1"
WS_SNG_PREFIX="chroot $root" TMPDIR=$WS_API_OUT/tmp WS_SNG_WORKDIR=$WS_API_OUT/chaos \
  "$venv/bin/python" "$WS_API_SRC/modules/websocket/tests/test_chaos.py" "$module" || rc=1
exit $rc
