/*
 * websocket-options.c: options shared by the websocket() source and destination, their
 * validation, and the engine context binding that survives reloads.
 */

#include "websocket-options.h"
#include "messages.h"
#include "cfg.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define WEBSOCKET_ERROR websocket_error_quark()

static GQuark
websocket_error_quark(void)
{
  return g_quark_from_static_string("websocket-error-quark");
}

void
websocket_options_defaults(WebsocketOptions *self, ws_mode default_mode)
{
  memset(self, 0, sizeof(*self));
  self->mode = default_mode;
  self->port = -1;
  self->path = g_strdup(WEBSOCKET_DEFAULT_PATH);
  self->max_message_size = -1;
  self->queue_capacity = -1;
  self->ping_interval_ms = -1;
  self->pong_timeout_ms = -1;
  self->handshake_timeout_ms = -1;
  self->reconnect_min_ms = -1;
  self->reconnect_max_ms = -1;
  self->max_connections = -1;
  self->slow_policy = WS_SLOW_DISCONNECT;
  self->drain_timeout_ms = WEBSOCKET_DEFAULT_DRAIN_TIMEOUT_MS;
  self->message_type = WS_MSG_TEXT;
}

void
websocket_options_destroy(WebsocketOptions *self)
{
  g_free(self->address);
  g_free(self->path);
  g_free(self->protocol);
  g_list_free_full(self->headers, g_free);
  g_free(self->cert);
  g_free(self->key);
  g_free(self->cacert);
  g_free(self->index_html);
  memset(self, 0, sizeof(*self));
}

gboolean
websocket_options_set_mode(WebsocketOptions *self, const gchar *mode)
{
  if (strcmp(mode, "client") == 0)
    self->mode = WS_MODE_CLIENT;
  else if (strcmp(mode, "server") == 0)
    self->mode = WS_MODE_SERVER;
  else
    return FALSE;
  self->mode_set = TRUE;
  return TRUE;
}

gboolean
websocket_options_set_port(WebsocketOptions *self, gint64 port)
{
  if (port < 0 || port > 65535)
    return FALSE;
  self->port = (gint) port;
  return TRUE;
}

gboolean
websocket_options_set_slow_policy(WebsocketOptions *self, const gchar *policy)
{
  if (strcmp(policy, "disconnect") == 0)
    self->slow_policy = WS_SLOW_DISCONNECT;
  else if (strcmp(policy, "drop-oldest") == 0 || strcmp(policy, "drop_oldest") == 0)
    self->slow_policy = WS_SLOW_DROP_OLDEST;
  else
    return FALSE;
  return TRUE;
}

gboolean
websocket_options_set_message_type(WebsocketOptions *self, const gchar *type)
{
  if (strcmp(type, "text") == 0)
    self->message_type = WS_MSG_TEXT;
  else if (strcmp(type, "binary") == 0)
    self->message_type = WS_MSG_BINARY;
  else
    return FALSE;
  return TRUE;
}

gboolean
websocket_options_add_header(WebsocketOptions *self, const gchar *header)
{
  const gchar *colon = strchr(header, ':');

  /* "Name: value": a name is required, and CR/LF would let a value inject handshake lines. */
  if (!colon || colon == header || strpbrk(header, "\r\n"))
    return FALSE;
  self->headers = g_list_append(self->headers, g_strdup(header));
  return TRUE;
}

void
websocket_options_set_string(gchar **slot, const gchar *value)
{
  g_free(*slot);
  *slot = (value && value[0]) ? g_strdup(value) : NULL;
}

/* Certificates are checked while parsing, so `syslog-ng --syntax-only` refuses a path that
   cannot be read instead of the error surfacing only when the first TLS handshake happens. */
gboolean
websocket_options_set_file(gchar **slot, const gchar *path, GError **error)
{
  if (access(path, R_OK) != 0)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "cannot read '%s': %s", path, g_strerror(errno));
      return FALSE;
    }
  websocket_options_set_string(slot, path);
  return TRUE;
}

gboolean
websocket_options_validate(WebsocketOptions *self, gboolean is_source, GError **error)
{
  if (self->mode == WS_MODE_CLIENT)
    {
      if (!self->address)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0,
                      "address() is required in mode(\"client\"): the host to connect to");
          return FALSE;
        }
      if (self->port == 0)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0, "port(0) is only valid in mode(\"server\")");
          return FALSE;
        }
      if (self->index_html)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0, "index-html() is only valid in mode(\"server\")");
          return FALSE;
        }
    }
  else
    {
      if (self->port < 0)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0, "port() is required in mode(\"server\"): the port to listen on");
          return FALSE;
        }
      if (self->headers)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0, "headers() is only valid in mode(\"client\")");
          return FALSE;
        }
      if (self->tls && (!self->cert || !self->key))
        {
          g_set_error(error, WEBSOCKET_ERROR, 0,
                      "ssl() in mode(\"server\") needs cert() and key(): the server's certificate and private key");
          return FALSE;
        }
      if (self->allow_self_signed)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0, "ssl(allow-self-signed) is only valid in mode(\"client\")");
          return FALSE;
        }
    }
  if (self->tls && (!self->cert) != (!self->key))
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "ssl(): cert() and key() must be given together");
      return FALSE;
    }
  if (self->reconnect_min_ms >= 0 && self->reconnect_max_ms >= 0 && self->reconnect_min_ms > self->reconnect_max_ms)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "reconnect-backoff(): the minimum is above the maximum");
      return FALSE;
    }
  if (self->path[0] != '/')
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "path() must start with '/', got '%s'", self->path);
      return FALSE;
    }
  return TRUE;
}

static gint
_effective_port(const WebsocketOptions *self)
{
  if (self->port >= 0)
    return self->port;
  return self->tls ? 443 : 80;
}

gchar *
websocket_options_describe(const WebsocketOptions *self)
{
  const gchar *address = self->address ? self->address : WEBSOCKET_DEFAULT_BIND_ADDRESS;
  gboolean v6 = strchr(address, ':') != NULL;

  return g_strdup_printf("%s %s://%s%s%s:%d%s", self->mode == WS_MODE_CLIENT ? "client" : "server",
                         self->tls ? "wss" : "ws", v6 ? "[" : "", address, v6 ? "]" : "",
                         _effective_port(self), self->path);
}

const gchar *
websocket_options_stats_instance(const WebsocketOptions *self, const gchar *persist_name,
                                 gchar *buf, gsize size)
{
  if (persist_name)
    {
      g_snprintf(buf, size, "websocket,%s", persist_name);
      return buf;
    }
  gchar *d = websocket_options_describe(self);
  g_snprintf(buf, size, "websocket,%s", d);
  g_free(d);
  return buf;
}

const gchar *
websocket_options_persist_name(const WebsocketOptions *self, const gchar *kind, gchar *buf, gsize size)
{
  gchar *d = websocket_options_describe(self);

  g_snprintf(buf, size, "%s(%s)", kind, d);
  g_free(d);
  return buf;
}

gchar *
websocket_options_fingerprint(const WebsocketOptions *self, ws_dispatch_mode dispatch, gboolean is_source)
{
  GString *s = g_string_new(NULL);

  g_string_append_printf(s, "%s|%d|%d|%s|%d|%s|%s|", is_source ? "src" : "dst", (gint) dispatch,
                         (gint) self->mode, self->address ? self->address : "", _effective_port(self),
                         self->path, self->protocol ? self->protocol : "");
  for (GList *l = self->headers; l; l = l->next)
    g_string_append_printf(s, "%s\n", (const gchar *) l->data);
  g_string_append_printf(s, "|%d|%s|%s|%s|%d|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT
                         "|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT
                         "|%" G_GINT64_FORMAT "|%d|%s",
                         self->tls, self->cert ? self->cert : "", self->key ? self->key : "",
                         self->cacert ? self->cacert : "", self->allow_self_signed, self->max_message_size,
                         self->queue_capacity, self->ping_interval_ms, self->pong_timeout_ms,
                         self->handshake_timeout_ms, self->reconnect_min_ms, self->reconnect_max_ms,
                         self->max_connections, (gint) self->slow_policy,
                         self->index_html ? self->index_html : "");
  return g_string_free(s, FALSE);
}

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

  g_mutex_lock(&self->lock);
  g_hash_table_insert(self->peers, g_memdup2(&conn, sizeof(conn)), peer);
  self->error_reported = FALSE;
  msg_verbose("websocket: connection open", evt_tag_str("endpoint", self->description),
              evt_tag_long("conn", (glong) conn), evt_tag_str("peer", peer->addr ? ip : "unknown"),
              evt_tag_int("peer_port", port));
  if (self->owner && self->handler->on_connect)
    self->handler->on_connect(self->owner, conn);
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

static void
_cb_close(ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  WebsocketBinding *self = user;

  g_mutex_lock(&self->lock);
  g_hash_table_remove(self->peers, &conn);
  msg_verbose("websocket: connection closed", evt_tag_str("endpoint", self->description),
              evt_tag_long("conn", (glong) conn), evt_tag_int("code", code),
              evt_tag_str("reason", reason ? reason : ""));
  if (self->owner && self->handler->on_close)
    self->handler->on_close(self->owner, conn, code, reason);
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
  CHECK_WS(ws_options_set_port(wo, _effective_port(o)), "port()");
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
  if (o->mode == WS_MODE_SERVER)
    {
      if (o->max_connections >= 0)
        CHECK_WS(ws_options_set_max_connections(wo, (uint32_t) o->max_connections), "max-connections()");
      CHECK_WS(ws_options_set_slow_policy(wo, o->slow_policy), "slow-policy()");
      if (o->index_html)
        CHECK_WS(ws_options_set_index_html(wo, o->index_html), "index-html()");
    }
  CHECK_WS(ws_options_set_dispatch(wo, dispatch), "dispatch");
  CHECK_WS(ws_options_set_callbacks(wo, &websocket_callbacks, self), "callbacks");
  CHECK_WS(ws_context_create(wo, &self->ctx), o->mode == WS_MODE_SERVER ? "cannot listen" : "cannot start client");
  ws_options_free(wo);
  return self;

fail:
  if (wo)
    ws_options_free(wo);
  g_hash_table_destroy(self->peers);
  g_free(self->fingerprint);
  g_free(self->description);
  g_mutex_clear(&self->lock);
  g_free(self);
  return NULL;
}

void
websocket_binding_attach(WebsocketBinding *self, gpointer owner, const WebsocketHandler *handler)
{
  g_mutex_lock(&self->lock);
  self->owner = owner;
  self->handler = handler;
  g_mutex_unlock(&self->lock);
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
  st = ws_context_destroy(self->ctx, (uint32_t) self->drain_timeout_ms, &unsent);
  /* Nothing is lost silently: what the drain timeout left behind is reported. */
  if (st != WS_OK || unsent > 0)
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
