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
  ws_slow_policy slow_policy;
  gchar *index_html;
  gint64 drain_timeout_ms;
  ws_msg_type message_type;
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

/* Checks the whole set once the driver's block is parsed (so it runs under --syntax-only). */
gboolean websocket_options_validate(WebsocketOptions *self, gboolean is_source, GError **error);

/* "client ws://127.0.0.1:8000/" style description for log messages and stats. */
gchar *websocket_options_describe(const WebsocketOptions *self);

/* The stats instance ("websocket,<persist-name or description>") and persist name
   ("<kind>(<description>)") of a driver, written into `buf` (which is returned). */
const gchar *websocket_options_stats_instance(const WebsocketOptions *self, const gchar *persist_name,
                                              gchar *buf, gsize size);
const gchar *websocket_options_persist_name(const WebsocketOptions *self, const gchar *kind,
                                            gchar *buf, gsize size);

/* ----------------------------------------------------------------------------------------- */
/* The engine context and the driver currently using it.
 *
 * Callbacks reach the driver through this binding, so that at a reload the context (its
 * connections, its listening socket, the messages queued in it or not yet dispatched) is handed
 * to the driver of the new configuration when that driver has identical options, instead of
 * being closed and reopened. Everything a driver needs from a callback goes through
 * WebsocketHandler. */

typedef struct _WebsocketHandler
{
  void (*on_connect)(gpointer owner, ws_conn_id conn);
  int (*on_receive)(gpointer owner, ws_conn_id conn, const uint8_t *data, size_t len, ws_msg_type type);
  void (*on_writable)(gpointer owner, ws_conn_id conn);
  void (*on_close)(gpointer owner, ws_conn_id conn, uint16_t code, const char *reason);
  void (*on_error)(gpointer owner, ws_conn_id conn, ws_status status, const char *message);
} WebsocketHandler;

typedef struct _WebsocketPeer
{
  GSockAddr *addr;              /* the peer's address, for SOURCEIP / HOST_FROM */
  gboolean paused;              /* reading paused by the source (ws_rx_flow) */
} WebsocketPeer;

typedef struct _WebsocketBinding
{
  ws_context *ctx;
  gchar *fingerprint;
  gchar *description;
  GMutex lock;
  gpointer owner;
  const WebsocketHandler *handler;
  gint64 drain_timeout_ms;
  /* open connections (ws_conn_id -> WebsocketPeer), kept here because they survive the
     handover to the next configuration's driver */
  GHashTable *peers;
  /* the last error was already logged at error level (logged again only after a connect) */
  gboolean error_reported;
} WebsocketBinding;

WebsocketBinding *websocket_binding_new(const WebsocketOptions *options, ws_dispatch_mode dispatch,
                                        gboolean is_source, GError **error);
void websocket_binding_attach(WebsocketBinding *self, gpointer owner, const WebsocketHandler *handler);
void websocket_binding_detach(WebsocketBinding *self);
/* Destroys the context (draining for the configured time) and frees the binding. */
void websocket_binding_free(WebsocketBinding *self);
/* Number of open connections; the binding's lock must not be held. */
gint websocket_binding_connections(WebsocketBinding *self);

gchar *websocket_options_fingerprint(const WebsocketOptions *self, ws_dispatch_mode dispatch, gboolean is_source);

/* The persist key under which a binding waits for the next configuration. */
gchar *websocket_binding_persist_key(LogPipe *driver, const gchar *kind);

#endif
