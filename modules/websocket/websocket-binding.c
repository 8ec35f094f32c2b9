/*
 * websocket-binding.c: the engine context of a websocket() driver and the driver currently
 * using it. The binding outlives a configuration reload: the next configuration's driver with
 * identical options takes it over (websocket_binding_acquire / websocket_binding_keep).
 */

#include "websocket-binding.h"
#include "websocket-compat.h"
#include "messages.h"
#include "cfg.h"

#include <string.h>

/* ----------------------------------------------------------------------------------------- */
/* Engine diagnostics go to syslog-ng's own log.  Each binding's context has its own handler
   (user is the binding), so a message names the endpoint it is about; the global handler (user
   NULL) gets what is about no context.  */

static void
_engine_log(ws_log_level level, const char *message, void *user)
{
  const WebsocketBinding *binding = user;
  const gchar *endpoint = binding ? binding->description : "-";

  switch (level)
    {
    case WS_LOG_ERROR:
      msg_error("websocket: engine error", evt_tag_str("endpoint", endpoint),
                evt_tag_str("message", message));
      break;
    case WS_LOG_WARN:
      msg_warning("websocket: engine warning", evt_tag_str("endpoint", endpoint),
                  evt_tag_str("message", message));
      break;
    case WS_LOG_INFO:
      msg_verbose("websocket: engine", evt_tag_str("endpoint", endpoint),
                  evt_tag_str("message", message));
      break;
    default:
      msg_debug("websocket: engine", evt_tag_str("endpoint", endpoint),
                evt_tag_str("message", message));
      break;
    }
}

static void
_peer_free(gpointer p)
{
  WebsocketPeer *peer = p;

  if (peer->addr)
    g_sockaddr_unref(peer->addr);
  g_free(peer);
}

gint
websocket_binding_connections(WebsocketBinding *self)
{
  gint n;

  g_mutex_lock(&self->lock);
  n = g_hash_table_size(self->peers);
  g_mutex_unlock(&self->lock);
  return n;
}

/* ----------------------------------------------------------------------------------------- */
/* Callback trampolines: the context's user pointer is the binding; the driver may change. */

static void
_cb_connect(ws_context *ctx, ws_conn_id conn, void *user)
{
  WebsocketBinding *self = user;

  WebsocketPeer *peer = g_new0(WebsocketPeer, 1);
  char ip[64];
  uint16_t port = 0;

  if (ws_peer_address(ctx, conn, ip, sizeof(ip), &port) == WS_OK)
    peer->addr = strchr(ip, ':') ? g_sockaddr_inet6_new(ip, port) : g_sockaddr_inet_new(ip, port);

  if (self->acks)
    websocket_source_acks_conn_open(self->acks, conn);
  g_mutex_lock(&self->lock);
  g_hash_table_insert(self->peers, g_memdup2(&conn, sizeof(conn)), peer);
  self->error_reported = FALSE;
  /* The driver hears of it before the log says so: whoever reads the log (the tests) then
     knows the driver's state already includes this connection. */
  if (self->owner && self->handler->on_connect)
    self->handler->on_connect(self->owner, conn);
  if (self->compression)
    {
      /* The engine counts a connection among the compressed ones before its on_connect, so in
         client mode (one connection) the count says whether this one negotiated it; a server
         logs how many of its open connections did. */
      ws_stats st = { .struct_size = sizeof(st) };

      ws_get_stats(ctx, &st);
      msg_verbose("websocket: connection open", evt_tag_str("endpoint", self->description),
                  evt_tag_long("conn", (glong) conn), evt_tag_str("peer", peer->addr ? ip : "unknown"),
                  evt_tag_int("peer_port", port),
                  evt_tag_long("compressed_connections", (glong) st.connections_compressed));
    }
  else
    msg_verbose("websocket: connection open", evt_tag_str("endpoint", self->description),
                evt_tag_long("conn", (glong) conn), evt_tag_str("peer", peer->addr ? ip : "unknown"),
                evt_tag_int("peer_port", port));
  g_mutex_unlock(&self->lock);
}

static int
_cb_receive(ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len, ws_msg_type type, void *user)
{
  WebsocketBinding *self = user;
  int pause = 0;

  g_mutex_lock(&self->lock);
  if (self->owner && self->handler->on_receive)
    pause = self->handler->on_receive(self->owner, conn, data, len, type);
  g_mutex_unlock(&self->lock);
  return pause;
}

static void
_cb_writable(ws_context *ctx, ws_conn_id conn, void *user)
{
  WebsocketBinding *self = user;

  g_mutex_lock(&self->lock);
  if (self->owner && self->handler->on_writable)
    self->handler->on_writable(self->owner, conn);
  g_mutex_unlock(&self->lock);
}

/* Client contexts only: every accepted message up to upto_seq is written to the socket. */
static void
_cb_sent(ws_context *ctx, ws_conn_id conn, uint64_t upto_seq, void *user)
{
  WebsocketBinding *self = user;

  g_mutex_lock(&self->lock);
  if (self->owner && self->handler->on_sent)
    self->handler->on_sent(self->owner, conn, upto_seq);
  g_mutex_unlock(&self->lock);
}

/* Client contexts with acknowledgements(yes): logs the messages written again since the last
   call (a connection ended before the receiver acknowledged them; the receiver may hold them
   twice). Called when a connection closes (its resends, made when it opened, are counted by
   then) and when the context goes. syslog-ng's threaded destinations have no counter for
   this, so the log carries the number. */
static void
_log_resent(WebsocketBinding *self)
{
  ws_stats st = { .struct_size = sizeof(ws_stats) };

  if (!self->ack_sender || ws_get_stats(self->ctx, &st) != WS_OK || st.messages_resent <= self->resent_logged)
    return;
  msg_notice("websocket: messages written again after a connection ended before the receiver acknowledged them "
             "(the receiver may have them twice)",
             evt_tag_str("endpoint", self->description),
             evt_tag_long("resent", (glong) (st.messages_resent - self->resent_logged)),
             evt_tag_long("resent_total", (glong) st.messages_resent));
  self->resent_logged = st.messages_resent;
}

/* Client contexts with acknowledgements(yes): every accepted message up to upto_seq is
   acknowledged by the receiver. */
static void
_cb_acked(ws_context *ctx, ws_conn_id conn, uint64_t upto_seq, void *user)
{
  WebsocketBinding *self = user;

  g_mutex_lock(&self->lock);
  if (self->owner && self->handler->on_acked)
    self->handler->on_acked(self->owner, conn, upto_seq);
  g_mutex_unlock(&self->lock);
}

static void
_cb_close(ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  WebsocketBinding *self = user;

  if (self->acks)
    websocket_source_acks_conn_close(self->acks, conn);
  g_mutex_lock(&self->lock);
  g_hash_table_remove(self->peers, &conn);
  /* As in _cb_connect: the driver first, then the log. */
  if (self->owner && self->handler->on_close)
    self->handler->on_close(self->owner, conn, code, reason);
  _log_resent(self);
  msg_verbose("websocket: connection closed", evt_tag_str("endpoint", self->description),
              evt_tag_long("conn", (glong) conn), evt_tag_int("code", code),
              evt_tag_str("reason", reason ? reason : ""));
  g_mutex_unlock(&self->lock);
}

static void
_cb_error(ws_context *ctx, ws_conn_id conn, ws_status status, const char *message, void *user)
{
  WebsocketBinding *self = user;

  g_mutex_lock(&self->lock);
  /* A client retries forever: the first failure after a working state is an error, the
     following ones (one per reconnect attempt) are debug messages, so the log is not flooded. */
  if (!self->error_reported)
    {
      msg_error("websocket: connection error", evt_tag_str("endpoint", self->description),
                evt_tag_str("error", ws_strerror(status)), evt_tag_str("detail", message ? message : ""));
      self->error_reported = TRUE;
    }
  else
    msg_debug("websocket: connection error", evt_tag_str("endpoint", self->description),
              evt_tag_str("error", ws_strerror(status)), evt_tag_str("detail", message ? message : ""));
  if (self->owner && self->handler->on_error)
    self->handler->on_error(self->owner, conn, status, message);
  g_mutex_unlock(&self->lock);
}

static const ws_callbacks websocket_callbacks =
{
  .on_connect = _cb_connect,
  .on_receive = _cb_receive,
  .on_writable = _cb_writable,
  .on_close = _cb_close,
  .on_error = _cb_error,
};

#define CHECK_WS(call, what) \
  do { \
    ws_status _st = (call); \
    if (_st != WS_OK) \
      { \
        g_set_error(error, WEBSOCKET_ERROR, 0, "%s: %s (%s)", what, ws_strerror(_st), ws_last_error()); \
        goto fail; \
      } \
  } while (0)

WebsocketBinding *
websocket_binding_new(const WebsocketOptions *o, ws_dispatch_mode dispatch, gboolean is_source, GError **error)
{
  WebsocketBinding *self = g_new0(WebsocketBinding, 1);
  ws_options *wo = ws_options_new(o->mode);

  g_mutex_init(&self->lock);
  self->peers = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, _peer_free);
  self->fingerprint = websocket_options_fingerprint(o, dispatch, is_source);
  self->description = websocket_options_describe(o);
  self->drain_timeout_ms = o->drain_timeout_ms;
  self->compression = o->compression;

  ws_set_log_handler(_engine_log, NULL, debug_flag ? WS_LOG_DEBUG : WS_LOG_INFO);

  if (!wo)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "ws_options_new failed: %s", ws_last_error());
      goto fail;
    }
  CHECK_WS(ws_options_set_log_handler(wo, _engine_log, self, debug_flag ? WS_LOG_DEBUG : WS_LOG_INFO),
           "log handler");
  if (o->address)
    CHECK_WS(ws_options_set_address(wo, o->address), "address()");
  CHECK_WS(ws_options_set_port(wo, websocket_options_effective_port(o)), "port()");
  CHECK_WS(ws_options_set_path(wo, o->path), "path()");
  if (o->protocol)
    CHECK_WS(ws_options_set_protocol(wo, o->protocol), "protocol()");
  for (GList *l = o->headers; l; l = l->next)
    {
      gchar **kv = g_strsplit((const gchar *) l->data, ":", 2);
      ws_status st = ws_options_add_header(wo, g_strstrip(kv[0]), g_strstrip(kv[1]));

      g_strfreev(kv);
      CHECK_WS(st, "headers()");
    }
  if (o->tls)
    {
      CHECK_WS(ws_options_set_tls(wo, 1), "ssl()");
      if (o->cert)
        CHECK_WS(ws_options_set_cert(wo, o->cert), "ssl(cert())");
      if (o->key)
        CHECK_WS(ws_options_set_key(wo, o->key), "ssl(key())");
      if (o->cacert)
        CHECK_WS(ws_options_set_cacert(wo, o->cacert), "ssl(cacert())");
      if (o->allow_self_signed)
        CHECK_WS(ws_options_set_allow_self_signed(wo, 1), "ssl(allow-self-signed)");
    }
  if (o->max_message_size >= 0)
    CHECK_WS(ws_options_set_max_message_size(wo, (size_t) o->max_message_size), "max-message-size()");
  if (o->queue_capacity >= 0)
    CHECK_WS(ws_options_set_queue_capacity(wo, (size_t) o->queue_capacity), "queue-capacity()");
  if (o->ping_interval_ms >= 0)
    CHECK_WS(ws_options_set_ping_interval_ms(wo, (uint32_t) o->ping_interval_ms), "ping-interval()");
  if (o->pong_timeout_ms >= 0)
    CHECK_WS(ws_options_set_pong_timeout_ms(wo, (uint32_t) o->pong_timeout_ms), "pong-timeout()");
  if (o->handshake_timeout_ms >= 0)
    CHECK_WS(ws_options_set_handshake_timeout_ms(wo, (uint32_t) o->handshake_timeout_ms), "handshake-timeout()");
  if (o->mode == WS_MODE_CLIENT && o->reconnect_min_ms >= 0)
    CHECK_WS(ws_options_set_reconnect_backoff_ms(wo, (uint32_t) o->reconnect_min_ms,
                                                 (uint32_t) (o->reconnect_max_ms >= 0 ? o->reconnect_max_ms
                                                             : MAX(o->reconnect_min_ms, 30000))),
             "reconnect-backoff()");
  if (o->max_buffered_bytes >= 0)
    CHECK_WS(ws_options_set_max_buffered_bytes(wo, (size_t) o->max_buffered_bytes), "max-buffered-bytes()");
  if (o->message_timeout_ms >= 0)
    CHECK_WS(ws_options_set_message_timeout_ms(wo, (uint32_t) o->message_timeout_ms), "message-timeout()");
  for (gint i = 0; i < WEBSOCKET_LIST_COUNT; i++)
    {
      const WebsocketListSpec *spec = &websocket_list_options[i];

      /* websocket_options_validate() refused server-only lists in client mode */
      for (guint v = 0; o->lists[i] && v < o->lists[i]->len; v++)
        CHECK_WS(spec->add(wo, g_ptr_array_index(o->lists[i], v)), spec->option);
    }
  if (o->compression)
    CHECK_WS(ws_options_set_compression(wo, websocket_options_compression_level(o)), "compression()");
  /* websocket_options_validate() refused proxy() in server mode */
  if (o->proxy)
    CHECK_WS(ws_options_set_proxy(wo, o->proxy), "proxy()");
  if (o->mode == WS_MODE_SERVER)
    {
      if (o->max_connections >= 0)
        CHECK_WS(ws_options_set_max_connections(wo, (uint32_t) o->max_connections), "max-connections()");
      CHECK_WS(ws_options_set_slow_policy(wo, o->slow_policy), "slow-policy()");
      if (o->index_html)
        CHECK_WS(ws_options_set_index_html(wo, o->index_html), "index-html()");
      /* 0 bytes: the engine's default bound (64 MiB) */
      if (o->replay_retention > 0)
        CHECK_WS(ws_options_set_replay_retention(wo, (uint64_t) o->replay_retention,
                                                 (size_t) o->replay_retention_bytes), "replay-retention()");
    }
  CHECK_WS(ws_options_set_dispatch(wo, dispatch), "dispatch");
  CHECK_WS(ws_options_set_callbacks(wo, &websocket_callbacks, self), "callbacks");
  if (o->mode == WS_MODE_CLIENT)
    CHECK_WS(ws_options_set_on_sent(wo, _cb_sent, self), "on_sent");
  /* websocket_options_validate() allowed acknowledgements() only on a client destination (the
     sender) and a server source (the receiver, which acknowledges when syslog-ng does). */
  if (o->acknowledgements)
    {
      CHECK_WS(ws_options_set_acknowledgements(wo, is_source ? WS_ACK_MANUAL : WS_ACK_AUTO), "acknowledgements()");
      if (o->ack_window >= 0)
        CHECK_WS(ws_options_set_ack_window(wo, (size_t) o->ack_window), "ack-window()");
      if (is_source)
        self->acks = websocket_source_acks_new();
      else
        CHECK_WS(ws_options_set_on_acked(wo, _cb_acked, self), "on_acked");
      self->ack_sender = !is_source;
    }
  CHECK_WS(ws_context_create(wo, &self->ctx), o->mode == WS_MODE_SERVER ? "cannot listen" : "cannot start client");
  if (self->acks)
    websocket_source_acks_set_context(self->acks, self->ctx);
  ws_options_free(wo);
  return self;

fail:
  if (wo)
    ws_options_free(wo);
  websocket_source_acks_unref(self->acks);
  g_hash_table_destroy(self->peers);
  g_free(self->fingerprint);
  g_free(self->description);
  g_mutex_clear(&self->lock);
  g_free(self);
  return NULL;
}

gint
websocket_binding_attach(WebsocketBinding *self, gpointer owner, const WebsocketHandler *handler)
{
  gint connections;

  g_mutex_lock(&self->lock);
  self->owner = owner;
  self->handler = handler;
  connections = g_hash_table_size(self->peers);
  g_mutex_unlock(&self->lock);
  return connections;
}

void
websocket_binding_detach(WebsocketBinding *self)
{
  g_mutex_lock(&self->lock);
  self->owner = NULL;
  self->handler = NULL;
  g_mutex_unlock(&self->lock);
}

void
websocket_binding_free(WebsocketBinding *self)
{
  uint64_t unsent = 0;
  ws_status st;

  if (!self)
    return;
  websocket_binding_detach(self);
  /* Messages still in syslog-ng's pipeline keep the acks object; their acknowledgements no
     longer reach the context (the senders resend what they did not see acknowledged). */
  if (self->acks)
    {
      websocket_source_acks_detach(self->acks);
      websocket_source_acks_unref(self->acks);
      self->acks = NULL;
    }
  _log_resent(self);
  st = ws_context_destroy(self->ctx, (uint32_t) self->drain_timeout_ms, &unsent);
  /* Nothing is lost silently: what the drain timeout left behind is reported. */
  if ((st != WS_OK || unsent > 0) && self->last_seq > 0)
    /* A client destination acknowledges only written messages: syslog-ng still holds these. */
    msg_error("websocket: messages the engine had not written when it closed were not acknowledged; "
              "they stay in syslog-ng's queue (a disk buffer sends them again at the next start, "
              "a memory queue loses them at shutdown)",
              evt_tag_str("endpoint", self->description), evt_tag_long("unsent", (glong) unsent),
              evt_tag_int("drain_timeout_ms", (gint) self->drain_timeout_ms),
              evt_tag_str("status", ws_strerror(st)));
  else if (st != WS_OK || unsent > 0)
    msg_error("websocket: messages still queued in the engine were dropped at shutdown",
              evt_tag_str("endpoint", self->description), evt_tag_long("unsent", (glong) unsent),
              evt_tag_int("drain_timeout_ms", (gint) self->drain_timeout_ms),
              evt_tag_str("status", ws_strerror(st)));
  else
    msg_verbose("websocket: engine context closed, nothing left unsent",
                evt_tag_str("endpoint", self->description));
  g_hash_table_destroy(self->peers);
  g_free(self->fingerprint);
  g_free(self->description);
  g_mutex_clear(&self->lock);
  g_free(self);
}

gchar *
websocket_binding_persist_key(LogPipe *driver, const gchar *kind)
{
  const gchar *name = log_pipe_get_persist_name(driver);

  return g_strdup_printf("websocket-%s(%s).context", kind, name ? name : "");
}

WebsocketBinding *
websocket_binding_acquire(GlobalConfig *cfg, const gchar *persist_key, WebsocketOptions *options,
                          ws_dispatch_mode dispatch, gboolean is_source, const gchar *driver_id)
{
  WebsocketBinding *binding;
  gchar *fingerprint;
  GError *error = NULL;

  if (!websocket_options_validate(options, is_source, &error))
    {
      msg_error("websocket: invalid configuration", evt_tag_str("driver", driver_id),
                evt_tag_str("error", error->message));
      g_clear_error(&error);
      return NULL;
    }

  binding = cfg_persist_config_fetch(cfg, persist_key);
  fingerprint = websocket_options_fingerprint(options, dispatch, is_source);
  if (binding && strcmp(binding->fingerprint, fingerprint) != 0)
    {
      websocket_binding_free(binding);
      binding = NULL;
    }
  g_free(fingerprint);
  if (binding)
    {
      binding->drain_timeout_ms = options->drain_timeout_ms;
      return binding;
    }

  binding = websocket_binding_new(options, dispatch, is_source, &error);
  if (!binding)
    {
      msg_error(is_source ? "websocket: cannot start the source" : "websocket: cannot start the destination",
                evt_tag_str("driver", driver_id), evt_tag_str("error", error->message));
      g_clear_error(&error);
      return NULL;
    }
  msg_verbose(is_source ? "websocket: source started" : "websocket: destination started",
              evt_tag_str("endpoint", binding->description), evt_tag_int("port", ws_local_port(binding->ctx)));
  return binding;
}

void
websocket_binding_keep(WebsocketBinding *self, GlobalConfig *cfg, const gchar *persist_key)
{
  websocket_binding_detach(self);
  websocket_compat_persist_add(cfg, persist_key, self, (GDestroyNotify) websocket_binding_free);
}
