# modules/websocket/module.m4: configure checks for the syslog-ng websocket() module.
#
# WS_SYSLOG_NG_MODULE
#   --with-syslog-ng=auto|yes|no   build the module for the syslog-ng pkg-config finds, 3.38 or
#                                  4.6+ (auto: when syslog-ng-dev, bison and python3 are found,
#                                  and json-c's headers for 4.x; yes: fail when they are not)
#   --with-module-dir=DIR          where `make install` puts libwebsocket.so
#                                  (default: syslog-ng's moduledir from pkg-config, relocated
#                                  under --prefix; with --prefix=/usr that is exactly the
#                                  directory syslog-ng loads modules from)
#
# Defines the AM_CONDITIONAL ENABLE_SYSLOG_NG_MODULE and substitutes SYSLOG_NG_CFLAGS,
# SYSLOG_NG_LIBS, SYSLOG_NG_TOOLSDIR (merge-grammar.py and cfg-grammar.y), SYSLOG_NG_MODULEDIR
# (where the installed syslog-ng looks), SYSLOG_NG_VERSION, ws_moduledir, WS_SNG_PYTHON, WS_SNG_BISON.
#
# Why the default is relocated under --prefix: a plain `make install` (or `make distcheck`, run
# without root) must not write outside the prefix it was given.  Installing for the system's
# syslog-ng is `./configure --prefix=/usr`, or --with-module-dir="$(pkg-config --variable=moduledir
# syslog-ng)" from any prefix.

AC_DEFUN([WS_SYSLOG_NG_MODULE],
[
AC_ARG_WITH([syslog-ng],
  [AS_HELP_STRING([--with-syslog-ng=auto|yes|no],
                  [build the syslog-ng websocket() module (default: auto, i.e. when syslog-ng-dev is found)])],
  [], [with_syslog_ng=auto])
AC_ARG_WITH([module-dir],
  [AS_HELP_STRING([--with-module-dir=DIR],
                  [install the syslog-ng module into DIR (default: syslog-ng's moduledir, relocated under --prefix)])],
  [], [with_module_dir=])

AS_CASE([$with_syslog_ng],
  [auto|yes|no], [],
  [AC_MSG_ERROR([--with-syslog-ng must be auto, yes or no, not '$with_syslog_ng'])])

ws_sng_enable=no
ws_sng_missing=
AS_IF([test "x$with_syslog_ng" != xno],
[
  dnl syslog-ng.pc leaves out ivykis (syslog-ng's event loop), which the module calls directly.
  PKG_CHECK_MODULES([SYSLOG_NG], [syslog-ng >= 3.38 ivykis], [ws_sng_enable=yes],
                    [ws_sng_missing="syslog-ng >= 3.38 and ivykis (pkg-config syslog-ng ivykis; Debian: syslog-ng-dev)"])
  AS_IF([test "x$ws_sng_enable" = xyes],
  [
    SYSLOG_NG_VERSION=`$PKG_CONFIG --modversion syslog-ng`
    SYSLOG_NG_TOOLSDIR=`$PKG_CONFIG --variable=toolsdir syslog-ng`
    SYSLOG_NG_MODULEDIR=`$PKG_CONFIG --variable=moduledir syslog-ng`
    AS_IF([test ! -f "$SYSLOG_NG_TOOLSDIR/merge-grammar.py" || test ! -f "$SYSLOG_NG_TOOLSDIR/cfg-grammar.y"],
          [ws_sng_enable=no
           ws_sng_missing="syslog-ng's grammar tools (merge-grammar.py, cfg-grammar.y in '$SYSLOG_NG_TOOLSDIR')"])
  ])
  dnl syslog-ng 4.x's headers include json-c's <json.h>, which its syslog-ng.pc does not list.
  AS_IF([test "x$ws_sng_enable" = xyes && $PKG_CONFIG --atleast-version=4 syslog-ng],
  [
    PKG_CHECK_MODULES([WS_SNG_JSONC], [json-c],
                      [SYSLOG_NG_CFLAGS="$SYSLOG_NG_CFLAGS $WS_SNG_JSONC_CFLAGS"],
                      [ws_sng_enable=no
                       ws_sng_missing="json-c's headers, which syslog-ng 4's headers include (pkg-config json-c; Debian: libjson-c-dev)"])
  ])
  AS_IF([test "x$ws_sng_enable" = xyes],
  [
    AC_PATH_PROGS([WS_SNG_PYTHON], [python3 python])
    AS_IF([test -z "$WS_SNG_PYTHON"], [ws_sng_enable=no; ws_sng_missing="python3 (runs merge-grammar.py)"])
  ])
  AS_IF([test "x$ws_sng_enable" = xyes],
  [
    AC_PATH_PROGS([WS_SNG_BISON], [bison])
    AS_IF([test -z "$WS_SNG_BISON"], [ws_sng_enable=no; ws_sng_missing="bison (builds the module's grammar)"])
  ])
  AS_IF([test "x$ws_sng_enable" = xno],
    [AS_IF([test "x$with_syslog_ng" = xyes],
           [AC_MSG_ERROR([--with-syslog-ng=yes, but $ws_sng_missing was not found])],
           [AC_MSG_WARN([the syslog-ng module will not be built: $ws_sng_missing not found])])])
])

AS_IF([test "x$ws_sng_enable" = xyes],
[
  AS_IF([test -n "$with_module_dir" && test "x$with_module_dir" != xyes && test "x$with_module_dir" != xno],
        [ws_moduledir=$with_module_dir],
        [test "x$with_module_dir" = xno || test "x$with_module_dir" = xyes],
        [AC_MSG_ERROR([--with-module-dir needs a directory])],
        [ws_moduledir=`$PKG_CONFIG --define-variable=prefix='${prefix}' --variable=moduledir syslog-ng`])
  AC_MSG_CHECKING([which syslog-ng the module is built for])
  AC_MSG_RESULT([$SYSLOG_NG_VERSION])
  AC_MSG_CHECKING([where to install the syslog-ng module])
  AC_MSG_RESULT([$ws_moduledir])
])

AC_SUBST([SYSLOG_NG_VERSION])
AC_SUBST([SYSLOG_NG_TOOLSDIR])
AC_SUBST([SYSLOG_NG_MODULEDIR])
AC_SUBST([ws_moduledir])
AM_CONDITIONAL([ENABLE_SYSLOG_NG_MODULE], [test "x$ws_sng_enable" = xyes])
])
