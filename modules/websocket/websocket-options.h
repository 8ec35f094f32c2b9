/*
 * websocket-options.h: the options shared by the websocket() source and destination, and the
 * engine context that outlives a configuration reload.
 */

#ifndef WEBSOCKET_OPTIONS_H_INCLUDED
#define WEBSOCKET_OPTIONS_H_INCLUDED

#include "syslog-ng.h"
#include "driver.h"
#include "gsockaddr.h"
#include "ws_api.h"

/* Defaults (documented in README.md); "unset" values are negative so the engine's own defaults
   apply unless an option was given. */
#define WEBSOCKET_DEFAULT_PATH "/"
#define WEBSOCKET_DEFAULT_BIND_ADDRESS "0.0.0.0"
#define WEBSOCKET_DEFAULT_DRAIN_TIMEOUT_MS 5000
/* compression(yes) without compression-level(): zlib level 1, the fastest. On log lines level 6
   saves only 14 % more bytes for five times the sender's CPU (docs/bench.md, scenario 9). */
#define WEBSOCKET_DEFAULT_COMPRESSION_LEVEL 1

/* The domain of the module's GErrors (configuration and start-up errors). */
#define WEBSOCKET_ERROR websocket_error_quark()
GQuark websocket_error_quark(void);

/* The options that take a list of strings (one or more values, repeatable). Each is one row of
   websocket_list_options[] (websocket-options.c): the grammar, the checks, the binding and the
   fingerprint all go through that table, so a new list option is an enum value, a row, a
   keyword and one grammar line. */
typedef enum
{
  WEBSOCKET_LIST_ALLOWED_ORIGINS,
  WEBSOCKET_LIST_AUTH_TOKENS,
  WEBSOCKET_LIST_TRUSTED_PROXIES,
  WEBSOCKET_LIST_COUNT
} WebsocketListOption;

typedef struct _WebsocketListSpec
{
  const gchar *option;          /* "allowed-origins()": named in errors */
  const gchar *file_option;     /* "auth-token-file()" when the values can come from a file, or NULL */
  ws_status (*add)(ws_options *o, const char *value);   /* the engine's setter */
  const gchar *server_only;     /* refused in mode("client") when set: why, for the error message */
  gboolean secret;              /* never logged; only its SHA-256 digest enters the fingerprint */
} WebsocketListSpec;

extern const WebsocketListSpec websocket_list_options[WEBSOCKET_LIST_COUNT];

typedef struct _WebsocketOptions
{
  ws_mode mode;
  gboolean mode_set;
  gchar *address;
  gint port;                    /* -1: not given */
  gchar *path;
  gchar *protocol;
  GList *headers;               /* "Name: value" strings, client handshake */
  gboolean tls;
  gchar *cert;
  gchar *key;
  gchar *cacert;
  gboolean allow_self_signed;
  gint64 max_message_size;      /* -1: engine default (16 MiB) */
  gint64 queue_capacity;        /* -1: engine default (65536) */
  gint64 ping_interval_ms;      /* -1: engine default (30 s) */
  gint64 pong_timeout_ms;       /* -1: engine default (10 s) */
  gint64 handshake_timeout_ms;  /* -1: engine default (10 s) */
  gint64 reconnect_min_ms;      /* -1: engine default (100 ms .. 30 s) */
  gint64 reconnect_max_ms;
  gint64 max_connections;       /* -1: engine default (10000) */
  gint64 max_buffered_bytes;    /* -1: engine default (256 MiB) */
  gint64 message_timeout_ms;    /* -1: engine default (60 s); 0: no limit */
  gint64 replay_retention;      /* server destination: broadcasts kept for replay; 0: off (default) */
  gint64 replay_retention_bytes;        /* bound on their bytes; 0: engine default (64 MiB) */
  gboolean compression;         /* compression(yes): offer (client) / accept (server) permessage-deflate */
  gint compression_level;       /* compression-level(1..9); -1: not given (WEBSOCKET_DEFAULT_COMPRESSION_LEVEL) */
  gboolean acknowledgements;    /* end-to-end acknowledgements (docs/acks.md); default no */
  gint64 ack_window;            /* -1: engine default (1024); client destination only */
  GPtrArray *lists[WEBSOCKET_LIST_COUNT];      /* gchar * values, NULL until the first one */
  ws_slow_policy slow_policy;
  gchar *index_html;
  gchar *proxy;                 /* client: "http://[user:password@]host[:port]" (may hold a password) */
  gint64 drain_timeout_ms;
  ws_msg_type message_type;
  gchar *url;                   /* websocket_options_url()'s string */
} WebsocketOptions;

void websocket_options_defaults(WebsocketOptions *self, ws_mode default_mode);
void websocket_options_destroy(WebsocketOptions *self);

/* Setters used by the grammar: FALSE means the value is refused (the grammar names the option). */
gboolean websocket_options_set_mode(WebsocketOptions *self, const gchar *mode);
gboolean websocket_options_set_port(WebsocketOptions *self, gint64 port);
gboolean websocket_options_set_slow_policy(WebsocketOptions *self, const gchar *policy);
gboolean websocket_options_set_message_type(WebsocketOptions *self, const gchar *type);
gboolean websocket_options_add_header(WebsocketOptions *self, const gchar *header);
gboolean websocket_options_set_file(gchar **slot, const gchar *path, GError **error);
void websocket_options_set_string(gchar **slot, const gchar *value);
gboolean websocket_options_set_max_buffered_bytes(WebsocketOptions *self, gint64 bytes, GError **error);
gboolean websocket_options_set_message_timeout(WebsocketOptions *self, gdouble seconds, GError **error);
/* replay-retention(N) and replay-retention-bytes(B) (docs/replay.md): range-checked here, server mode
   only (websocket_options_validate). */
gboolean websocket_options_set_replay_retention(WebsocketOptions *self, gint64 messages, GError **error);
gboolean websocket_options_set_replay_retention_bytes(WebsocketOptions *self, gint64 bytes, GError **error);
/* compression-level(): 1..9 (zlib's levels; compression(no) is how to turn it off). */
gboolean websocket_options_set_compression_level(WebsocketOptions *self, gint64 level, GError **error);
/* The level handed to ws_options_set_compression: 0 without compression(yes). */
gint websocket_options_compression_level(const WebsocketOptions *self);

/* ack-window(): 1 .. 2^20 messages (the engine's range), refused otherwise. */
gboolean websocket_options_set_ack_window(WebsocketOptions *self, gint64 messages, GError **error);
/* proxy(): checked by the engine's ws_options_set_proxy; the error never quotes the URL (it may
   hold a password). Client mode only (websocket_options_validate). */
gboolean websocket_options_set_proxy(WebsocketOptions *self, const gchar *url, GError **error);

/* List options: a value is checked by the engine (the same rules as when the context is made)
   before it is kept, so --syntax-only refuses it. The error never quotes a secret value. */
gboolean websocket_options_add_list_value(WebsocketOptions *self, WebsocketListOption which, const gchar *value,
                                          GError **error);
/* Adds one value per line of `path` (blank lines and lines starting with '#' are skipped,
   surrounding white space is trimmed). The file is read now, at configuration time: an
   unreadable file, a bad line or a file without any value is an error. */
gboolean websocket_options_add_list_file(WebsocketOptions *self, WebsocketListOption which, const gchar *path,
                                         GError **error);
guint websocket_options_list_length(const WebsocketOptions *self, WebsocketListOption which);

/* Checks the whole set once the driver's block is parsed (so it runs under --syntax-only). */
gboolean websocket_options_validate(WebsocketOptions *self, gboolean is_source, GError **error);

/* The port a driver uses: port(), else 80 (443 with ssl()) for a client. */
gint websocket_options_effective_port(const WebsocketOptions *self);

/* "client ws://127.0.0.1:8000/" style description for log messages and stats. */
gchar *websocket_options_describe(const WebsocketOptions *self);

/* "ws://127.0.0.1:8000/" (wss:// with ssl()): owned by the options, valid until
   websocket_options_destroy(). */
const gchar *websocket_options_url(WebsocketOptions *self);

/* The stats instance ("websocket,<persist-name or description>") and persist name
   ("<kind>(<description>)") of a driver, written into `buf` (which is returned). */
const gchar *websocket_options_stats_instance(const WebsocketOptions *self, const gchar *persist_name,
                                              gchar *buf, gsize size);
const gchar *websocket_options_persist_name(const WebsocketOptions *self, const gchar *kind,
                                            gchar *buf, gsize size);

/* Every option that the engine context depends on, as one string: a reload keeps the context
   only when this did not change. */
gchar *websocket_options_fingerprint(const WebsocketOptions *self, ws_dispatch_mode dispatch, gboolean is_source);

#endif
