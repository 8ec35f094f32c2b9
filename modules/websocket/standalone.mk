# modules/websocket/standalone.mk: builds the syslog-ng websocket() module outside the autotools
# tree, against an installed ws_api (pkg-config --static ws_api) and syslog-ng-dev.
#
#   make -f standalone.mk [O=BUILDDIR] [PKG_CONFIG_PATH=...]      -> BUILDDIR/libwebsocket.so
#   make -f standalone.mk install [MODULEDIR=...]                  (default: syslog-ng's moduledir)
#
# CI (scripts/check.d/30-syslog-ng.sh) uses it to check that the installed library, headers and
# ws_api.pc are enough to build the module.

SRCDIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
O ?= .
PKG_CONFIG ?= pkg-config
PYTHON ?= python3
BISON ?= bison
CC ?= cc

# syslog-ng 4.x's headers include json-c's <json.h>, which its syslog-ng.pc does not list.
SNG_CFLAGS := $(shell $(PKG_CONFIG) --cflags syslog-ng) \
	$(shell $(PKG_CONFIG) --atleast-version=4 syslog-ng && $(PKG_CONFIG) --cflags json-c)
# syslog-ng.pc leaves out ivykis (its event loop), which the module calls directly.
SNG_LIBS := $(shell $(PKG_CONFIG) --libs syslog-ng ivykis)
SNG_TOOLS := $(shell $(PKG_CONFIG) --variable=toolsdir syslog-ng)
MODULEDIR ?= $(shell $(PKG_CONFIG) --variable=moduledir syslog-ng)
WS_CFLAGS := $(shell $(PKG_CONFIG) --cflags --static ws_api)
WS_LIBS := $(shell $(PKG_CONFIG) --libs --static ws_api)

SOURCES := websocket-plugin.c websocket-parser.c websocket-options.c websocket-binding.c websocket-compat.c \
	websocket-dest.c websocket-source.c websocket-source-acks.c
OBJECTS := $(addprefix $(O)/,$(SOURCES:.c=.o)) $(O)/websocket-grammar.o
CFLAGS ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) -fPIC -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare \
	-Wno-deprecated-declarations -I$(SRCDIR) -I$(O) $(SNG_CFLAGS) $(WS_CFLAGS)

all: $(O)/libwebsocket.so

$(O)/websocket-grammar.y: $(SRCDIR)/websocket-grammar.ym
	@mkdir -p $(O)
	top_srcdir= $(PYTHON) $(SNG_TOOLS)/merge-grammar.py $< > $@.tmp && mv -f $@.tmp $@

$(O)/websocket-grammar.c: $(O)/websocket-grammar.y
	$(BISON) -Wno-yacc -Wno-other -Wno-conflicts-sr -Wno-conflicts-rr --defines=$(O)/websocket-grammar.h -o $@ $<

$(O)/websocket-grammar.h: $(O)/websocket-grammar.c

$(O)/websocket-grammar.o: $(O)/websocket-grammar.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/%.o: $(SRCDIR)/%.c $(O)/websocket-grammar.h $(wildcard $(SRCDIR)/*.h)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The Rust archive's symbols stay inside the module (--exclude-libs), and -z defs proves that
# everything the module needs is resolved by ws_api's Libs.private and syslog-ng's libraries.
# WS_CFLAGS is on the link line too: with --static, ws_api.pc's Cflags.private names the
# directory that holds only libws_api.a, so that -lws_api means the archive, not the .so.
$(O)/libwebsocket.so: $(OBJECTS)
	$(CC) -shared -o $@ $(OBJECTS) -Wl,--exclude-libs,ALL -Wl,-z,defs $(WS_CFLAGS) $(WS_LIBS) $(SNG_LIBS)
	@if readelf -d $@ | grep -q 'NEEDED.*libws_api'; then \
	  echo "error: $@ depends on libws_api.so; the static archive was not linked" >&2; rm -f $@; exit 1; fi

install: $(O)/libwebsocket.so
	install -d $(DESTDIR)$(MODULEDIR)
	install -m 0755 $(O)/libwebsocket.so $(DESTDIR)$(MODULEDIR)/libwebsocket.so

clean:
	rm -f $(OBJECTS) $(O)/libwebsocket.so $(O)/websocket-grammar.[chy] $(O)/websocket-grammar.y.tmp

.PHONY: all install clean
