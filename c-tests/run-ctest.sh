#!/bin/sh
# Configures, builds and runs the C test suite (c-tests/) against an installed ws_api.
#
#   c-tests/run-ctest.sh --prefix /usr/local
#   c-tests/run-ctest.sh --prefix /usr/local --destdir "$PWD/stage"   # staged with DESTDIR
#
# Options:
#   --prefix DIR        where ws_api is installed (its ws_api.pc is DIR/lib/pkgconfig/ws_api.pc)
#   --destdir DIR       the install was staged with `make install DESTDIR=DIR`: ws_api.pc is
#                       read from DIR and its paths are mapped into DIR (PKG_CONFIG_SYSROOT_DIR)
#   --pkgconfigdir DIR  where ws_api.pc was installed, if not PREFIX/lib/pkgconfig
#   --build-dir DIR     CMake build directory (default: ./c-tests-build)
#   --memcheck ON|OFF   also run every test under valgrind (default: ON when valgrind is found)
#   --cmake PATH        the cmake to use (ctest is taken from the same directory)
#   --jobs N            parallel tests and compile jobs (default: 2)
# Anything after `--` goes to ctest (e.g. -- -R roundtrip -E memcheck).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=
destdir=
pcdir=
builddir=$PWD/c-tests-build
memcheck=
cmake=cmake
jobs=2

usage () {
  sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while test $# -gt 0; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --pkgconfigdir) pcdir=$2; shift 2 ;;
    --build-dir) builddir=$2; shift 2 ;;
    --memcheck) memcheck=$2; shift 2 ;;
    --cmake) cmake=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "run-ctest.sh: unknown argument: $1" >&2; usage ;;
  esac
done

test -n "$prefix" || { echo "run-ctest.sh: --prefix is required" >&2; usage; }
test -n "$pcdir" || pcdir=$prefix/lib/pkgconfig
if test -z "$memcheck"; then
  if command -v valgrind >/dev/null 2>&1; then memcheck=ON; else memcheck=OFF; fi
fi
case $cmake in
  */*) ctest=$(dirname "$cmake")/ctest ;;
  *) ctest=ctest ;;
esac

if test -n "$destdir"; then
  # ws_api.pc names the final paths; the sysroot makes pkg-config report them inside DESTDIR.
  PKG_CONFIG_SYSROOT_DIR=$destdir
  export PKG_CONFIG_SYSROOT_DIR
fi
PKG_CONFIG_PATH=$destdir$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
test -f "$destdir$pcdir/ws_api.pc" || {
  echo "run-ctest.sh: no ws_api.pc in $destdir$pcdir (is ws_api installed there?)" >&2
  exit 1
}

# Under make (make check) the parent's jobserver is not ours: cmake --build and ctest get their
# parallelism from --jobs alone.
unset MAKEFLAGS MFLAGS MAKELEVEL

echo "run-ctest.sh: ws_api.pc from $destdir$pcdir, build in $builddir, memcheck $memcheck"
mkdir -p "$builddir"
# pkg_check_modules caches what it found; the install it points at may have changed since.
rm -f "$builddir/CMakeCache.txt"
"$cmake" -S "$here" -B "$builddir" -DWS_MEMCHECK="$memcheck"
"$cmake" --build "$builddir" --parallel "$jobs"
cd "$builddir"
exec "$ctest" --output-on-failure --no-tests=error -j "$jobs" "$@"
