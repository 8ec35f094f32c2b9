/*
 * websocket-dest.c: the websocket() destination, a LogThreadedDestDriver.
 *
 * Client mode: the worker formats the template and queues the message in the engine with
 * ws_send; the engine connects, reconnects and writes. While the engine has no connection, or
 * its queue stays full, the worker answers LTR_NOT_CONNECTED: the message is rewound into
 * syslog-ng's own queue (and its disk buffer, when one is configured) and the worker is
 * suspended until the engine reports a connection or room again.
 *
 * Server mode: every formatted message is broadcast to the connected subscribers. Slow
 * subscribers are handled by the engine's slow-policy; what the engine drops is added to this
 * driver's "dropped" counter. With no subscriber, no-subscriber("drop") (default) drops and
 * counts the message, no-subscriber("wait") keeps it in syslog-ng's queue until one connects.
 */

#include "websocket-dest.h"
#include "websocket-options.h"
#include "messages.h"
#include "stats/stats-counter.h"
#include "template/templates.h"

#include <iv_event.h>
#include <string.h>

#define WEBSOCKET_DEFAULT_TEMPLATE "$ISODATE $HOST $MSGHDR$MSG"
/* How long connect() waits for the engine's first connection and insert() for room in a full
   engine queue before handing back to syslog-ng's suspend logic. */
#define WEBSOCKET_WAIT_MS 1000

typedef struct _WebsocketDestDriver
{
  LogThreadedDestDriver super;
  WebsocketOptions options;
  LogTemplate *template;
  LogTemplateOptions template_options;
  WebsocketNoSubscriber no_subscriber;
  gchar *persist_key;

  WebsocketBinding *binding;
  GString *buffer;

  /* Written by the engine's callbacks, read by the worker. */
  gint connections;             /* atomic */
  GMutex state_lock;
  GCond state_cond;
  gboolean writable;
  /* wakeup: posted by a callback, handled in the worker's own ivykis loop */
  struct iv_event wakeup;
  gboolean wakeup_registered;

  guint64 engine_dropped_seen;
  gboolean no_subscriber_warned;
} WebsocketDestDriver;

WebsocketOptions *
websocket_dd_get_options(LogDriver *s)
{
  return &((WebsocketDestDriver *) s)->options;
}

LogTemplateOptions *
websocket_dd_get_template_options(LogDriver *s)
{
  return &((WebsocketDestDriver *) s)->template_options;
}

void
websocket_dd_set_template(LogDriver *s, LogTemplate *template)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  log_template_unref(self->template);
  self->template = template;
}

gboolean
websocket_dd_set_no_subscriber(LogDriver *s, const gchar *action)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  if (strcmp(action, "drop") == 0)
    self->no_subscriber = WEBSOCKET_NO_SUBSCRIBER_DROP;
  else if (strcmp(action, "wait") == 0)
    self->no_subscriber = WEBSOCKET_NO_SUBSCRIBER_WAIT;
  else
    return FALSE;
  return TRUE;
}

gboolean
websocket_dd_check(LogDriver *s, GError **error)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  return websocket_options_validate(&self->options, FALSE, error);
}

/* ----------------------------------------------------------------------------------------- */
/* Engine callbacks (the engine's I/O thread, with the binding's lock held). */

static void
_post_wakeup(WebsocketDestDriver *self)
{
  g_mutex_lock(&self->state_lock);
  if (self->wakeup_registered)
    iv_event_post(&self->wakeup);
  g_mutex_unlock(&self->state_lock);
}

static void
_on_connect(gpointer owner, ws_conn_id conn)
{
  WebsocketDestDriver *self = owner;

  g_atomic_int_inc(&self->connections);
  g_mutex_lock(&self->state_lock);
  self->no_subscriber_warned = FALSE;
  g_cond_broadcast(&self->state_cond);
  g_mutex_unlock(&self->state_lock);
  _post_wakeup(self);
}

static void
_on_close(gpointer owner, ws_conn_id conn, uint16_t code, const char *reason)
{
  WebsocketDestDriver *self = owner;

  if (g_atomic_int_get(&self->connections) > 0)
    g_atomic_int_add(&self->connections, -1);
  g_mutex_lock(&self->state_lock);
  g_cond_broadcast(&self->state_cond);
  g_mutex_unlock(&self->state_lock);
}

static void
_on_writable(gpointer owner, ws_conn_id conn)
{
  WebsocketDestDriver *self = owner;

  g_mutex_lock(&self->state_lock);
  self->writable = TRUE;
  g_cond_broadcast(&self->state_cond);
  g_mutex_unlock(&self->state_lock);
  _post_wakeup(self);
}

static const WebsocketHandler websocket_dest_handler =
{
  .on_connect = _on_connect,
  .on_close = _on_close,
  .on_writable = _on_writable,
};

/* ----------------------------------------------------------------------------------------- */
/* Worker (syslog-ng's destination thread). */

static void
_wakeup_handler(void *cookie)
{
  WebsocketDestDriver *self = cookie;

  log_threaded_dest_worker_wakeup_when_suspended(&self->super.worker.instance);
}

static void
_thread_init(LogThreadedDestDriver *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  IV_EVENT_INIT(&self->wakeup);
  self->wakeup.cookie = self;
  self->wakeup.handler = _wakeup_handler;
  iv_event_register(&self->wakeup);
  g_mutex_lock(&self->state_lock);
  self->wakeup_registered = TRUE;
  g_mutex_unlock(&self->state_lock);
}

static void
_thread_deinit(LogThreadedDestDriver *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  g_mutex_lock(&self->state_lock);
  self->wakeup_registered = FALSE;
  g_mutex_unlock(&self->state_lock);
  iv_event_unregister(&self->wakeup);
}

static gboolean
_is_connected(WebsocketDestDriver *self)
{
  return g_atomic_int_get(&self->connections) > 0;
}

/* Waits (bounded) until cond() holds; the state lock is held by the caller. */
static void
_wait_state(WebsocketDestDriver *self, gboolean (*cond)(WebsocketDestDriver *))
{
  gint64 end = g_get_monotonic_time() + WEBSOCKET_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!cond(self))
    if (!g_cond_wait_until(&self->state_cond, &self->state_lock, end))
      break;
}

static gboolean
_connect(LogThreadedDestDriver *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  /* Server mode has nothing to connect. With no-subscriber("wait") the worker stays suspended
     until a subscriber connects (on_connect wakes it); with "drop" the messages are handled
     one by one in insert(). */
  if (self->options.mode == WS_MODE_SERVER)
    return self->no_subscriber == WEBSOCKET_NO_SUBSCRIBER_DROP || _is_connected(self);

  /* The engine connects in the background and reports it through on_connect (which also wakes
     a suspended worker); waiting briefly here spares the first messages a suspend cycle. */
  g_mutex_lock(&self->state_lock);
  _wait_state(self, _is_connected);
  g_mutex_unlock(&self->state_lock);
  return _is_connected(self);
}

static gboolean
_writable_or_gone(WebsocketDestDriver *self)
{
  return self->writable || !_is_connected(self);
}

static void
_account_engine_drops(WebsocketDestDriver *self)
{
  ws_stats st = { .struct_size = sizeof(ws_stats) };

  if (ws_get_stats(self->binding->ctx, &st) != WS_OK)
    return;
  if (st.messages_dropped > self->engine_dropped_seen)
    {
      stats_counter_add(self->super.dropped_messages, (gssize) (st.messages_dropped - self->engine_dropped_seen));
      self->engine_dropped_seen = st.messages_dropped;
    }
}

static ws_status
_send(WebsocketDestDriver *self)
{
  if (self->options.mode == WS_MODE_SERVER)
    return ws_broadcast(self->binding->ctx, self->buffer->str, self->buffer->len, self->options.message_type);
  return ws_send(self->binding->ctx, 0, self->buffer->str, self->buffer->len, self->options.message_type);
}

static LogThreadedResult
_insert(LogThreadedDestDriver *s, LogMessage *msg)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;
  LogTemplateEvalOptions eval = { &self->template_options, LTZ_SEND, self->super.worker.instance.seq_num, NULL,
                                  LM_VT_STRING };
  ws_status st;

  if (!_is_connected(self))
    {
      if (self->options.mode == WS_MODE_CLIENT || self->no_subscriber == WEBSOCKET_NO_SUBSCRIBER_WAIT)
        return LTR_NOT_CONNECTED;

      /* no-subscriber("drop"): counted as dropped; warned once per period without subscribers. */
      if (!self->no_subscriber_warned)
        {
          msg_warning("websocket: no subscriber connected, messages are dropped until one connects "
                      "(counted in the destination's dropped counter; no-subscriber(\"wait\") keeps them queued)",
                      evt_tag_str("driver", self->super.super.super.id),
                      evt_tag_str("endpoint", self->binding->description));
          self->no_subscriber_warned = TRUE;
        }
      log_threaded_dest_worker_drop_messages(&self->super.worker.instance, 1);
      return LTR_EXPLICIT_ACK_MGMT;
    }

  log_template_format(self->template, msg, &eval, self->buffer);
  log_threaded_dest_driver_insert_msg_length_stats(&self->super, self->buffer->len);

  st = _send(self);
  if (st == WS_ERR_QUEUE_FULL)
    {
      /* Wait (bounded) for the engine's queue to drain, then hand the message back to
         syslog-ng's queue if there is still no room: nothing is dropped for backpressure. */
      g_mutex_lock(&self->state_lock);
      self->writable = FALSE;
      g_mutex_unlock(&self->state_lock);
      ws_request_writable(self->binding->ctx, 0);
      g_mutex_lock(&self->state_lock);
      _wait_state(self, _writable_or_gone);
      g_mutex_unlock(&self->state_lock);
      st = _send(self);
      if (st == WS_ERR_QUEUE_FULL)
        ws_request_writable(self->binding->ctx, 0);
    }
  if (self->options.mode == WS_MODE_SERVER)
    _account_engine_drops(self);

  switch (st)
    {
    case WS_OK:
      return LTR_SUCCESS;
    case WS_ERR_QUEUE_FULL:
    case WS_ERR_NOT_CONNECTED:
    case WS_ERR_CLOSED:
      return LTR_NOT_CONNECTED;
    case WS_ERR_TOO_LARGE:
      msg_error("websocket: message larger than max-message-size(), dropped",
                evt_tag_str("driver", self->super.super.super.id),
                evt_tag_long("size", (glong) self->buffer->len));
      return LTR_DROP;
    case WS_ERR_INVALID_ARGUMENT:
      msg_error("websocket: message refused by the engine (a text message must be valid UTF-8; "
                "message-type(\"binary\") sends any bytes), dropped",
                evt_tag_str("driver", self->super.super.super.id), evt_tag_str("detail", ws_last_error()));
      return LTR_DROP;
    default:
      msg_error("websocket: sending failed", evt_tag_str("driver", self->super.super.super.id),
                evt_tag_str("error", ws_strerror(st)), evt_tag_str("detail", ws_last_error()));
      return LTR_ERROR;
    }
}

/* ----------------------------------------------------------------------------------------- */
/* LogPipe */

static const gchar *
_format_stats_instance(LogThreadedDestDriver *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;
  static gchar stats_instance[1024];

  return websocket_options_stats_instance(&self->options, s->super.super.super.persist_name,
                                          stats_instance, sizeof(stats_instance));
}

static const gchar *
_generate_persist_name(const LogPipe *s)
{
  const WebsocketDestDriver *self = (const WebsocketDestDriver *) s;
  static gchar persist_name[1024];

  return websocket_options_persist_name(&self->options, "websocket-destination", persist_name, sizeof(persist_name));
}

static gboolean
_init(LogPipe *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;
  GlobalConfig *cfg = log_pipe_get_config(s);
  GError *error = NULL;
  WebsocketBinding *binding;
  gchar *fingerprint;

  if (!self->template)
    {
      self->template = log_template_new(cfg, NULL);
      log_template_compile(self->template, WEBSOCKET_DEFAULT_TEMPLATE, NULL);
    }
  log_template_options_init(&self->template_options, cfg);

  if (!websocket_options_validate(&self->options, FALSE, &error))
    {
      msg_error("websocket: invalid configuration", evt_tag_str("driver", self->super.super.super.id),
                evt_tag_str("error", error->message));
      g_clear_error(&error);
      return FALSE;
    }

  /* The context of the previous configuration is taken over when nothing changed: no
     reconnect, and what it still had queued goes on in order. */
  g_free(self->persist_key);
  self->persist_key = websocket_binding_persist_key(s, "destination");
  binding = cfg_persist_config_fetch(cfg, self->persist_key);
  fingerprint = websocket_options_fingerprint(&self->options, WS_DISPATCH_THREAD, FALSE);
  if (binding && strcmp(binding->fingerprint, fingerprint) != 0)
    {
      websocket_binding_free(binding);
      binding = NULL;
    }
  g_free(fingerprint);
  if (!binding)
    {
      binding = websocket_binding_new(&self->options, WS_DISPATCH_THREAD, FALSE, &error);
      if (!binding)
        {
          msg_error("websocket: cannot start the destination", evt_tag_str("driver", self->super.super.super.id),
                    evt_tag_str("error", error->message));
          g_clear_error(&error);
          return FALSE;
        }
      msg_verbose("websocket: destination started", evt_tag_str("endpoint", binding->description),
                  evt_tag_int("port", ws_local_port(binding->ctx)));
    }
  self->binding = binding;
  binding->drain_timeout_ms = self->options.drain_timeout_ms;
  {
    ws_stats st = { .struct_size = sizeof(ws_stats) };

    if (ws_get_stats(binding->ctx, &st) == WS_OK)
      self->engine_dropped_seen = st.messages_dropped;
  }
  g_mutex_lock(&binding->lock);
  g_atomic_int_set(&self->connections, g_hash_table_size(binding->peers));
  binding->owner = self;
  binding->handler = &websocket_dest_handler;
  g_mutex_unlock(&binding->lock);

  if (!log_threaded_dest_driver_init_method(s))
    {
      websocket_binding_free(self->binding);
      self->binding = NULL;
      return FALSE;
    }
  return TRUE;
}

static gboolean
_deinit(LogPipe *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;
  gboolean ok = log_threaded_dest_driver_deinit_method(s);

  if (self->binding)
    {
      websocket_binding_detach(self->binding);
      /* Kept for the next configuration; freed (drained, then destroyed) when it does not
         take it, including at shutdown. */
      cfg_persist_config_add(log_pipe_get_config(s), self->persist_key, self->binding,
                             (GDestroyNotify) websocket_binding_free, FALSE);
      self->binding = NULL;
    }
  return ok;
}

static void
_free(LogPipe *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  log_template_unref(self->template);
  log_template_options_destroy(&self->template_options);
  websocket_options_destroy(&self->options);
  g_string_free(self->buffer, TRUE);
  g_free(self->persist_key);
  g_cond_clear(&self->state_cond);
  g_mutex_clear(&self->state_lock);
  log_threaded_dest_driver_free(s);
}

LogDriver *
websocket_dd_new(GlobalConfig *cfg)
{
  WebsocketDestDriver *self = g_new0(WebsocketDestDriver, 1);

  log_threaded_dest_driver_init_instance(&self->super, cfg);
  self->super.super.super.super.init = _init;
  self->super.super.super.super.deinit = _deinit;
  self->super.super.super.super.free_fn = _free;
  self->super.super.super.super.generate_persist_name = _generate_persist_name;

  self->super.worker.thread_init = _thread_init;
  self->super.worker.thread_deinit = _thread_deinit;
  self->super.worker.connect = _connect;
  self->super.worker.insert = _insert;
  self->super.format_stats_instance = _format_stats_instance;
  self->super.stats_source = stats_register_type("websocket");
  /* The engine reconnects by itself and wakes the worker when it does; time-reopen() is only
     the fallback interval at which a suspended worker looks again. */
  self->super.time_reopen = 1;

  websocket_options_defaults(&self->options, WS_MODE_CLIENT);
  log_template_options_defaults(&self->template_options);
  self->buffer = g_string_sized_new(1024);
  g_mutex_init(&self->state_lock);
  g_cond_init(&self->state_cond);
  return &self->super.super.super;
}
