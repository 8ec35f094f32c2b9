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

GQuark
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
  g_free(self->url);
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

gint
websocket_options_effective_port(const WebsocketOptions *self)
{
  if (self->port >= 0)
    return self->port;
  return self->tls ? 443 : 80;
}

static gchar *
_format_url(const WebsocketOptions *self)
{
  const gchar *address = self->address ? self->address : WEBSOCKET_DEFAULT_BIND_ADDRESS;
  gboolean v6 = strchr(address, ':') != NULL;

  return g_strdup_printf("%s://%s%s%s:%d%s", self->tls ? "wss" : "ws", v6 ? "[" : "", address, v6 ? "]" : "",
                         websocket_options_effective_port(self), self->path);
}

const gchar *
websocket_options_url(WebsocketOptions *self)
{
  /* Made once: the options do not change after parsing, and the pointer must stay valid for
     whoever keeps it (the stats key builder). */
  if (!self->url)
    self->url = _format_url(self);
  return self->url;
}

gchar *
websocket_options_describe(const WebsocketOptions *self)
{
  gchar *url = _format_url(self);
  gchar *d = g_strdup_printf("%s %s", self->mode == WS_MODE_CLIENT ? "client" : "server", url);

  g_free(url);
  return d;
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
                         (gint) self->mode, self->address ? self->address : "", websocket_options_effective_port(self),
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
