/*
 * websocket-binding.h: the engine context of a websocket() driver, which outlives a
 * configuration reload.
 */

#ifndef WEBSOCKET_BINDING_H_INCLUDED
#define WEBSOCKET_BINDING_H_INCLUDED

#include "websocket-options.h"
#include "websocket-source-acks.h"
#include "cfg.h"

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
  /* client contexts: every accepted message numbered up to upto_seq is written (ws_on_sent_fn) */
  void (*on_sent)(gpointer owner, ws_conn_id conn, uint64_t upto_seq);
  /* client contexts with acknowledgements(yes): every accepted message numbered up to upto_seq
     is acknowledged by the receiver (ws_on_acked_fn) */
  void (*on_acked)(gpointer owner, ws_conn_id conn, uint64_t upto_seq);
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
  gboolean compression;         /* compression(yes): "connection open" says whether it was negotiated */
  /* open connections (ws_conn_id -> WebsocketPeer), kept here because they survive the
     handover to the next configuration's driver */
  GHashTable *peers;
  /* the last error was already logged at error level (logged again only after a connect) */
  gboolean error_reported;
  /* client destination: the sequence number (ws_send_seq) of the last message its worker
     handed to the context; kept here because it outlives a reload with the context, so that
     the next configuration's worker never counts an earlier worker's messages as its own */
  guint64 last_seq;
  /* server-mode source with acknowledgements(yes): per-connection acknowledgements back to the
     senders (websocket-source-acks.h); NULL otherwise */
  WebsocketSourceAcks *acks;
  /* client destination with acknowledgements(yes): ws_stats.messages_resent already logged */
  gboolean ack_sender;
  guint64 resent_logged;
} WebsocketBinding;

WebsocketBinding *websocket_binding_new(const WebsocketOptions *options, ws_dispatch_mode dispatch,
                                        gboolean is_source, GError **error);
/* Routes the callbacks to `owner`; answers the number of connections open at that moment. */
gint websocket_binding_attach(WebsocketBinding *self, gpointer owner, const WebsocketHandler *handler);
void websocket_binding_detach(WebsocketBinding *self);
/* Destroys the context (draining for the configured time) and frees the binding. */
void websocket_binding_free(WebsocketBinding *self);
/* Number of open connections; the binding's lock must not be held. */
gint websocket_binding_connections(WebsocketBinding *self);

/* The persist key under which a binding waits for the next configuration. */
gchar *websocket_binding_persist_key(LogPipe *driver, const gchar *kind);

/* Checks the options again (they may have been built without the grammar's checks), then takes
   over the binding the previous configuration kept under `persist_key` when it was made
   from identical options (nothing reconnects, nothing queued is lost); otherwise frees that one
   and creates a new context. NULL (the error logged, naming `driver_id`) when the context cannot be created. */
WebsocketBinding *websocket_binding_acquire(GlobalConfig *cfg, const gchar *persist_key,
                                            WebsocketOptions *options, ws_dispatch_mode dispatch,
                                            gboolean is_source, const gchar *driver_id);

/* Detaches the driver and keeps the binding for the next configuration under `persist_key`; it
   is freed (drained, then destroyed) when no driver takes it over, at shutdown included. */
void websocket_binding_keep(WebsocketBinding *self, GlobalConfig *cfg, const gchar *persist_key);

#endif
