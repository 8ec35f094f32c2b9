#!/bin/sh
# Bootstraps the autotools build (configure, Makefile.in, libtool and pkg-config macros).
# Needs autoconf, automake, libtool and pkg-config; then: ./configure && make && make install.
set -e
cd "$(dirname "$0")"
mkdir -p m4
exec autoreconf --force --install --verbose "$@"
