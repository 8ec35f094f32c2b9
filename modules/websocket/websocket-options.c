/*
 * websocket-options.c: options shared by the websocket() source and destination, their
 * validation, and the engine context binding that survives reloads.
 */

#include "websocket-options.h"
#include "messages.h"
#include "cfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const WebsocketListSpec websocket_list_options[WEBSOCKET_LIST_COUNT] =
{
  [WEBSOCKET_LIST_ALLOWED_ORIGINS] = {
    .option = "allowed-origins()",
    .add = ws_options_add_allowed_origin,
    .server_only = "it decides who may connect to this server",
  },
  [WEBSOCKET_LIST_AUTH_TOKENS] = {
    .option = "auth-token()",
    .file_option = "auth-token-file()",
    .add = ws_options_add_bearer_token,
    .server_only = "they decide who may connect to this server (a client sends its token with "
    "headers(\"Authorization: Bearer ...\"))",
    .secret = TRUE,
  },
  [WEBSOCKET_LIST_TRUSTED_PROXIES] = {
    .option = "trusted-proxies()",
    .add = ws_options_add_trusted_proxy,
    .server_only = "it names the reverse proxies in front of this server whose Forwarded / "
    "X-Forwarded-For headers give a client's address",
  },
};

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
  self->max_buffered_bytes = -1;
  self->message_timeout_ms = -1;
  self->compression_level = -1;
  self->ack_window = -1;
  self->slow_policy = WS_SLOW_DISCONNECT;
  self->drain_timeout_ms = WEBSOCKET_DEFAULT_DRAIN_TIMEOUT_MS;
  self->message_type = WS_MSG_TEXT;
}

static void _free_secret(gpointer p);

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
  if (self->proxy)
    _free_secret(self->proxy);
  g_free(self->url);
  for (gint i = 0; i < WEBSOCKET_LIST_COUNT; i++)
    if (self->lists[i])
      g_ptr_array_unref(self->lists[i]);
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

/* ----------------------------------------------------------------------------------------- */
/* Values the engine checks: a throwaway ws_options object asks the engine's own setter, so the
   rules live in one place and --syntax-only applies them without creating a context. */

static ws_options *
_probe_new(GError **error)
{
  ws_options *probe = ws_options_new(WS_MODE_SERVER);

  if (!probe)
    g_set_error(error, WEBSOCKET_ERROR, 0, "ws_options_new failed: %s", ws_last_error());
  return probe;
}

/* Frees the probe; on a refusal sets `error` to the engine's reason (which never quotes a
   token: the engine does not repeat secrets). */
static gboolean
_probe_verdict(ws_options *probe, ws_status st, GError **error)
{
  if (st != WS_OK)
    g_set_error(error, WEBSOCKET_ERROR, 0, "%s", ws_last_error());
  ws_options_free(probe);
  return st == WS_OK;
}

gboolean
websocket_options_set_max_buffered_bytes(WebsocketOptions *self, gint64 bytes, GError **error)
{
  ws_options *probe;

  if (bytes < 0 || (guint64) bytes > G_MAXSIZE)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "%" G_GINT64_FORMAT " is out of range", bytes);
      return FALSE;
    }
  probe = _probe_new(error);
  if (!probe || !_probe_verdict(probe, ws_options_set_max_buffered_bytes(probe, (size_t) bytes), error))
    return FALSE;
  self->max_buffered_bytes = bytes;
  return TRUE;
}

/* The engine's own bound on ws_options_set_replay_retention's `messages`. */
#define WEBSOCKET_MAX_REPLAY_RETENTION (G_GINT64_CONSTANT(1) << 30)

gboolean
websocket_options_set_replay_retention(WebsocketOptions *self, gint64 messages, GError **error)
{
  if (messages < 0 || messages > WEBSOCKET_MAX_REPLAY_RETENTION)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "%" G_GINT64_FORMAT " is out of range 0..%" G_GINT64_FORMAT,
                  messages, WEBSOCKET_MAX_REPLAY_RETENTION);
      return FALSE;
    }
  self->replay_retention = messages;
  return TRUE;
}

gboolean
websocket_options_set_replay_retention_bytes(WebsocketOptions *self, gint64 bytes, GError **error)
{
  if (bytes <= 0 || (guint64) bytes > G_MAXSIZE)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "%" G_GINT64_FORMAT " is out of range", bytes);
      return FALSE;
    }
  self->replay_retention_bytes = bytes;
  return TRUE;
}

gboolean
websocket_options_set_message_timeout(WebsocketOptions *self, gdouble seconds, GError **error)
{
  /* The engine takes milliseconds as a uint32_t: about 49 days. */
  if (!(seconds >= 0) || seconds * 1000 > (gdouble) G_MAXUINT32)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "must be between 0 (no limit) and %u seconds, not %.10g",
                  G_MAXUINT32 / 1000, seconds);
      return FALSE;
    }
  self->message_timeout_ms = (gint64) (seconds * 1000);
  return TRUE;
}

gboolean
websocket_options_set_compression_level(WebsocketOptions *self, gint64 level, GError **error)
{
  if (level < 1 || level > 9)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0,
                  "must be between 1 (fastest) and 9 (smallest), not %" G_GINT64_FORMAT
                  " (compression(no) turns compression off)", level);
      return FALSE;
    }
  self->compression_level = (gint) level;
  return TRUE;
}

gint
websocket_options_compression_level(const WebsocketOptions *self)
{
  if (!self->compression)
    return 0;
  return self->compression_level > 0 ? self->compression_level : WEBSOCKET_DEFAULT_COMPRESSION_LEVEL;
}

static void
_free_secret(gpointer p)
{
  gchar *s = p;

  /* A token does not outlive its use in a freed heap block (explicit_bzero: a memset before
     free may be optimised away). */
  explicit_bzero(s, strlen(s));
  g_free(s);
}

gboolean
websocket_options_set_proxy(WebsocketOptions *self, const gchar *url, GError **error)
{
  ws_options *probe = ws_options_new(WS_MODE_CLIENT);

  if (!probe)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "ws_options_new failed: %s", ws_last_error());
      return FALSE;
    }
  if (!_probe_verdict(probe, ws_options_set_proxy(probe, url), error))
    return FALSE;
  if (self->proxy)
    _free_secret(self->proxy);
  self->proxy = g_strdup(url);
  return TRUE;
}

gboolean
websocket_options_add_list_value(WebsocketOptions *self, WebsocketListOption which, const gchar *value,
                                 GError **error)
{
  const WebsocketListSpec *spec = &websocket_list_options[which];
  ws_options *probe = _probe_new(error);

  if (!probe || !_probe_verdict(probe, spec->add(probe, value), error))
    return FALSE;
  if (!self->lists[which])
    self->lists[which] = g_ptr_array_new_with_free_func(spec->secret ? _free_secret : g_free);
  g_ptr_array_add(self->lists[which], g_strdup(value));
  return TRUE;
}

gboolean
websocket_options_add_list_file(WebsocketOptions *self, WebsocketListOption which, const gchar *path,
                                GError **error)
{
  FILE *f = fopen(path, "r");
  gchar *line = NULL;
  size_t size = 0;
  guint lineno = 0, added = 0;
  gboolean ok = TRUE;

  if (!f)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "cannot read '%s': %s", path, g_strerror(errno));
      return FALSE;
    }
  while (ok && getline(&line, &size, f) >= 0)
    {
      gchar *value = g_strstrip(line);
      GError *local = NULL;

      lineno++;
      if (!value[0] || value[0] == '#')
        continue;
      ok = websocket_options_add_list_value(self, which, value, &local);
      if (ok)
        added++;
      else
        {
          g_set_error(error, WEBSOCKET_ERROR, 0, "'%s' line %u: %s", path, lineno, local->message);
          g_error_free(local);
        }
    }
  if (ok && ferror(f))
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "cannot read '%s': %s", path, g_strerror(errno));
      ok = FALSE;
    }
  if (ok && added == 0)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0,
                  "'%s' holds no value (one per line; blank lines and lines starting with '#' are ignored)", path);
      ok = FALSE;
    }
  if (line)
    explicit_bzero(line, size);
  free(line);
  fclose(f);
  return ok;
}

guint
websocket_options_list_length(const WebsocketOptions *self, WebsocketListOption which)
{
  return self->lists[which] ? self->lists[which]->len : 0;
}

/* The engine's range (ws_options_set_ack_window): checked here so that --syntax-only refuses
   it with the option's name. */
#define WEBSOCKET_ACK_WINDOW_MAX (1 << 20)

gboolean
websocket_options_set_ack_window(WebsocketOptions *self, gint64 messages, GError **error)
{
  if (messages < 1 || messages > WEBSOCKET_ACK_WINDOW_MAX)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0, "must be between 1 and %d messages, not %" G_GINT64_FORMAT,
                  WEBSOCKET_ACK_WINDOW_MAX, messages);
      return FALSE;
    }
  self->ack_window = messages;
  return TRUE;
}

/* ----------------------------------------------------------------------------------------- */

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

/* Acknowledgements go from a server-mode source back to a client-mode destination: the
   receiver acknowledges, the sender keeps and resends (docs/acks.md). */
static gboolean
_validate_acknowledgements(WebsocketOptions *self, gboolean is_source, GError **error)
{
  gboolean sender = !is_source && self->mode == WS_MODE_CLIENT;
  gboolean receiver = is_source && self->mode == WS_MODE_SERVER;

  if (self->acknowledgements && !sender && !receiver)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0,
                  "acknowledgements() is only valid on a destination in mode(\"client\") (the sender) and a "
                  "source in mode(\"server\") (the receiver that acknowledges), not on a %s in mode(\"%s\")",
                  is_source ? "source" : "destination", self->mode == WS_MODE_CLIENT ? "client" : "server");
      return FALSE;
    }
  if (self->ack_window >= 0 && !(sender && self->acknowledgements))
    {
      g_set_error(error, WEBSOCKET_ERROR, 0,
                  "ack-window() is only valid with acknowledgements(yes) on a destination in mode(\"client\"): "
                  "the messages the sender keeps until the receiver acknowledges them");
      return FALSE;
    }
  return TRUE;
}

gboolean
websocket_options_validate(WebsocketOptions *self, gboolean is_source, GError **error)
{
  if (!_validate_acknowledgements(self, is_source, error))
    return FALSE;
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
      if (self->replay_retention > 0 || self->replay_retention_bytes > 0)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0,
                      "replay-retention() and replay-retention-bytes() are only valid in mode(\"server\"): "
                      "they keep broadcasts for subscribers that reconnect");
          return FALSE;
        }
      for (gint i = 0; i < WEBSOCKET_LIST_COUNT; i++)
        {
          const WebsocketListSpec *spec = &websocket_list_options[i];

          if (spec->server_only && websocket_options_list_length(self, i) > 0)
            {
              g_set_error(error, WEBSOCKET_ERROR, 0, "%s%s%s %s only valid in mode(\"server\"): %s", spec->option,
                          spec->file_option ? " and " : "", spec->file_option ? spec->file_option : "",
                          spec->file_option ? "are" : "is", spec->server_only);
              return FALSE;
            }
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
      if (self->proxy)
        {
          g_set_error(error, WEBSOCKET_ERROR, 0,
                      "proxy() is only valid in mode(\"client\"): the HTTP proxy a client connects through");
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
  /* A level without compression(yes) would be silently ignored: say so instead. */
  if (self->compression_level > 0 && !self->compression)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0,
                  "compression-level() needs compression(yes): compression is off by default");
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

/* A list's values, in order; a secret list only as the SHA-256 of its values, so the fingerprint
   (kept for the whole run) never holds a token in clear, yet a changed token changes it. */
static void
_fingerprint_list(GString *s, const WebsocketListSpec *spec, const GPtrArray *values)
{
  GChecksum *sum;

  g_string_append_printf(s, "|%s", spec->option);
  if (!values)
    return;
  if (!spec->secret)
    {
      for (guint i = 0; i < values->len; i++)
        g_string_append_printf(s, "%s\n", (const gchar *) g_ptr_array_index(values, i));
      return;
    }
  sum = g_checksum_new(G_CHECKSUM_SHA256);
  for (guint i = 0; i < values->len; i++)
    {
      const gchar *v = g_ptr_array_index(values, i);
      guint64 len = strlen(v);

      /* the length first, so that no two lists hash the same bytes */
      g_checksum_update(sum, (const guchar *) &len, sizeof(len));
      g_checksum_update(sum, (const guchar *) v, len);
    }
  g_string_append(s, g_checksum_get_string(sum));
  g_checksum_free(sum);
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
  g_string_append_printf(s, "|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|deflate %d", self->max_buffered_bytes,
                         self->message_timeout_ms, websocket_options_compression_level(self));
  g_string_append_printf(s, "|replay %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, self->replay_retention,
                         self->replay_retention_bytes);
  g_string_append_printf(s, "|ack %d %" G_GINT64_FORMAT, self->acknowledgements, self->ack_window);
  /* The proxy URL may hold a password: only its digest enters the fingerprint. */
  if (self->proxy)
    {
      gchar *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, self->proxy, -1);

      g_string_append_printf(s, "|proxy %s", digest);
      g_free(digest);
    }
  for (gint i = 0; i < WEBSOCKET_LIST_COUNT; i++)
    _fingerprint_list(s, &websocket_list_options[i], self->lists[i]);
  return g_string_free(s, FALSE);
}
