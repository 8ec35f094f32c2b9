/*
 * websocket-dest.c: the websocket() destination, a LogThreadedDestDriver with
 * LogThreadedDestWorkers (the same worker API on syslog-ng 3.38 and 4.x).
 *
 * Client mode: workers(N) (default 1) opens N connections, one engine context per worker;
 * syslog-ng spreads the messages over the workers, and each worker's messages go out on its
 * own connection in order. Each worker formats the template and queues the message in the engine with
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
#include "websocket-binding.h"
#include "websocket-compat.h"
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

  /* One engine context per worker (server mode: one), created in init so that a failure
     (a port in use) fails the configuration; kept across reloads under persist_keys[i]. */
  gint num_bindings;
  WebsocketBinding **bindings;
  gchar **persist_keys;
} WebsocketDestDriver;

typedef struct _WebsocketDestWorker
{
  LogThreadedDestWorker super;
  WebsocketDestDriver *driver;
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
} WebsocketDestWorker;

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

  if (!websocket_options_validate(&self->options, FALSE, error))
    return FALSE;
  if (self->options.mode == WS_MODE_SERVER && self->super.num_workers > 1)
    {
      g_set_error(error, WEBSOCKET_ERROR, 0,
                  "workers() is only valid in mode(\"client\"): a server broadcasts from one context, in order");
      return FALSE;
    }
  return TRUE;
}

/* ----------------------------------------------------------------------------------------- */
/* Engine callbacks (the engine's I/O thread, with the binding's lock held). */

static void
_post_wakeup(WebsocketDestWorker *self)
{
  g_mutex_lock(&self->state_lock);
  if (self->wakeup_registered)
    iv_event_post(&self->wakeup);
  g_mutex_unlock(&self->state_lock);
}

static void
_on_connect(gpointer owner, ws_conn_id conn)
{
  WebsocketDestWorker *self = owner;

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
  WebsocketDestWorker *self = owner;

  /* May go below 0 for a moment: see _construct_worker. */
  g_atomic_int_add(&self->connections, -1);
  g_mutex_lock(&self->state_lock);
  g_cond_broadcast(&self->state_cond);
  g_mutex_unlock(&self->state_lock);
}

static void
_on_writable(gpointer owner, ws_conn_id conn)
{
  WebsocketDestWorker *self = owner;

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
/* Worker (one syslog-ng destination thread each). */

static void
_wakeup_handler(void *cookie)
{
  WebsocketDestWorker *self = cookie;

  log_threaded_dest_worker_wakeup_when_suspended(&self->super);
}

static gboolean
_worker_init(LogThreadedDestWorker *s)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  IV_EVENT_INIT(&self->wakeup);
  self->wakeup.cookie = self;
  self->wakeup.handler = _wakeup_handler;
  iv_event_register(&self->wakeup);
  g_mutex_lock(&self->state_lock);
  self->wakeup_registered = TRUE;
  g_mutex_unlock(&self->state_lock);
  return log_threaded_dest_worker_init_method(s);
}

static void
_worker_deinit(LogThreadedDestWorker *s)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  g_mutex_lock(&self->state_lock);
  self->wakeup_registered = FALSE;
  g_mutex_unlock(&self->state_lock);
  iv_event_unregister(&self->wakeup);
  log_threaded_dest_worker_deinit_method(s);
}

static gboolean
_is_connected(WebsocketDestWorker *self)
{
  return g_atomic_int_get(&self->connections) > 0;
}

/* Waits (bounded) until cond() holds; the state lock is held by the caller. */
static void
_wait_state(WebsocketDestWorker *self, gboolean (*cond)(WebsocketDestWorker *))
{
  gint64 end = g_get_monotonic_time() + WEBSOCKET_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!cond(self))
    if (!g_cond_wait_until(&self->state_cond, &self->state_lock, end))
      break;
}

static gboolean
_connect(LogThreadedDestWorker *s)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  /* Server mode has nothing to connect. With no-subscriber("wait") the worker stays suspended
     until a subscriber connects (on_connect wakes it); with "drop" the messages are handled
     one by one in insert(). */
  if (self->driver->options.mode == WS_MODE_SERVER)
    return self->driver->no_subscriber == WEBSOCKET_NO_SUBSCRIBER_DROP || _is_connected(self);

  /* The engine connects in the background and reports it through on_connect (which also wakes
     a suspended worker); waiting briefly here spares the first messages a suspend cycle. */
  g_mutex_lock(&self->state_lock);
  _wait_state(self, _is_connected);
  g_mutex_unlock(&self->state_lock);
  return _is_connected(self);
}

static gboolean
_writable_or_gone(WebsocketDestWorker *self)
{
  return self->writable || !_is_connected(self);
}

static void
_account_engine_drops(WebsocketDestWorker *self)
{
  ws_stats st = { .struct_size = sizeof(ws_stats) };

  if (ws_get_stats(self->binding->ctx, &st) != WS_OK)
    return;
  if (st.messages_dropped > self->engine_dropped_seen)
    {
      stats_counter_add(websocket_compat_dest_dropped_counter(&self->driver->super),
                        (gssize) (st.messages_dropped - self->engine_dropped_seen));
      self->engine_dropped_seen = st.messages_dropped;
    }
}

static ws_status
_send(WebsocketDestWorker *self)
{
  ws_msg_type type = self->driver->options.message_type;

  if (self->driver->options.mode == WS_MODE_SERVER)
    return ws_broadcast(self->binding->ctx, self->buffer->str, self->buffer->len, type);
  return ws_send(self->binding->ctx, 0, self->buffer->str, self->buffer->len, type);
}

static LogThreadedResult
_insert(LogThreadedDestWorker *s, LogMessage *msg)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;
  WebsocketDestDriver *driver = self->driver;
  const gchar *driver_id = driver->super.super.super.id;
  LogTemplateEvalOptions eval = { .opts = &driver->template_options, .tz = LTZ_SEND, .seq_num = s->seq_num,
                                  .context_id = NULL, .context_id_type = LM_VT_STRING };
  ws_status st;

  if (!_is_connected(self))
    {
      if (driver->options.mode == WS_MODE_CLIENT || driver->no_subscriber == WEBSOCKET_NO_SUBSCRIBER_WAIT)
        return LTR_NOT_CONNECTED;

      /* no-subscriber("drop"): counted as dropped; warned once per period without subscribers. */
      if (!self->no_subscriber_warned)
        {
          msg_warning("websocket: no subscriber connected, messages are dropped until one connects "
                      "(counted in the destination's dropped counter; no-subscriber(\"wait\") keeps them queued)",
                      evt_tag_str("driver", driver_id), evt_tag_str("endpoint", self->binding->description));
          self->no_subscriber_warned = TRUE;
        }
      log_threaded_dest_worker_drop_messages(s, 1);
      return LTR_EXPLICIT_ACK_MGMT;
    }

  log_template_format(driver->template, msg, &eval, self->buffer);
  log_threaded_dest_driver_insert_msg_length_stats(&driver->super, self->buffer->len);

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
  if (driver->options.mode == WS_MODE_SERVER)
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
                evt_tag_str("driver", driver_id), evt_tag_long("size", (glong) self->buffer->len));
      return LTR_DROP;
    case WS_ERR_INVALID_ARGUMENT:
      msg_error("websocket: message refused by the engine (a text message must be valid UTF-8; "
                "message-type(\"binary\") sends any bytes), dropped",
                evt_tag_str("driver", driver_id), evt_tag_str("detail", ws_last_error()));
      return LTR_DROP;
    default:
      msg_error("websocket: sending failed", evt_tag_str("driver", driver_id),
                evt_tag_str("error", ws_strerror(st)), evt_tag_str("detail", ws_last_error()));
      return LTR_ERROR;
    }
}

static void
_worker_free(LogThreadedDestWorker *s)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  g_string_free(self->buffer, TRUE);
  g_cond_clear(&self->state_cond);
  g_mutex_clear(&self->state_lock);
  log_threaded_dest_worker_free_method(s);
}

/* Worker i uses binding i: its own connection in client mode. Constructed after _init made
   the bindings. */
static LogThreadedDestWorker *
_construct_worker(LogThreadedDestDriver *s, gint worker_index)
{
  WebsocketDestDriver *driver = (WebsocketDestDriver *) s;
  WebsocketDestWorker *self = g_new0(WebsocketDestWorker, 1);
  ws_stats st = { .struct_size = sizeof(ws_stats) };

  log_threaded_dest_worker_init_instance(&self->super, s, worker_index);
  self->super.init = _worker_init;
  self->super.deinit = _worker_deinit;
  self->super.connect = _connect;
  self->super.insert = _insert;
  self->super.free_fn = _worker_free;

  self->driver = driver;
  self->binding = driver->bindings[worker_index % driver->num_bindings];
  self->buffer = g_string_sized_new(1024);
  g_mutex_init(&self->state_lock);
  g_cond_init(&self->state_cond);
  if (ws_get_stats(self->binding->ctx, &st) == WS_OK)
    self->engine_dropped_seen = st.messages_dropped;
  /* Added, not set: a callback may already have counted a connection opened or closed after
     the attach, and the connections open at the attach are counted here. */
  g_atomic_int_add(&self->connections, websocket_binding_attach(self->binding, self, &websocket_dest_handler));
  return &self->super;
}

/* ----------------------------------------------------------------------------------------- */
/* LogPipe */

static const gchar *
_generate_persist_name(const LogPipe *s)
{
  const WebsocketDestDriver *self = (const WebsocketDestDriver *) s;
  static gchar persist_name[1024];

  return websocket_options_persist_name(&self->options, "websocket-destination", persist_name, sizeof(persist_name));
}

static void
_release_bindings(WebsocketDestDriver *self, gboolean keep)
{
  GlobalConfig *cfg = log_pipe_get_config(&self->super.super.super.super);

  for (gint i = 0; i < self->num_bindings; i++)
    {
      if (!self->bindings[i])
        continue;
      /* Kept for the next configuration; freed (drained, then destroyed) when it does not
         take it, including at shutdown. */
      if (keep)
        websocket_binding_keep(self->bindings[i], cfg, self->persist_keys[i]);
      else
        websocket_binding_free(self->bindings[i]);
    }
  g_free(self->bindings);
  g_strfreev(self->persist_keys);
  self->bindings = NULL;
  self->persist_keys = NULL;
  self->num_bindings = 0;
}

static gboolean
_init(LogPipe *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;
  GlobalConfig *cfg = log_pipe_get_config(s);
  gchar *base_key;

  if (!self->template)
    {
      self->template = log_template_new(cfg, NULL);
      log_template_compile(self->template, WEBSOCKET_DEFAULT_TEMPLATE, NULL);
    }
  log_template_options_init(&self->template_options, cfg);

  /* The contexts of the previous configuration are taken over when nothing changed: no
     reconnect, and what they still had queued goes on in order. Worker 0 keeps the key of a
     single-worker destination, so changing workers() keeps the first connection. */
  self->num_bindings = self->options.mode == WS_MODE_CLIENT ? MAX(self->super.num_workers, 1) : 1;
  self->bindings = g_new0(WebsocketBinding *, self->num_bindings);
  self->persist_keys = g_new0(gchar *, self->num_bindings + 1);
  base_key = websocket_binding_persist_key(s, "destination");
  for (gint i = 0; i < self->num_bindings; i++)
    {
      self->persist_keys[i] = i == 0 ? g_strdup(base_key) : g_strdup_printf("%s.%d", base_key, i);
      self->bindings[i] = websocket_binding_acquire(cfg, self->persist_keys[i], &self->options, WS_DISPATCH_THREAD,
                                                    FALSE, self->super.super.super.id);
      if (!self->bindings[i])
        {
          g_free(base_key);
          _release_bindings(self, FALSE);
          return FALSE;
        }
    }
  g_free(base_key);

  if (!log_threaded_dest_driver_init_method(s))
    {
      _release_bindings(self, FALSE);
      return FALSE;
    }
  return TRUE;
}

static gboolean
_deinit(LogPipe *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;
  gboolean ok;

  /* The callbacks stop reaching the workers before syslog-ng stops (and may free) them; a
     worker waiting for a callback meanwhile gives up within WEBSOCKET_WAIT_MS. */
  for (gint i = 0; i < self->num_bindings; i++)
    websocket_binding_detach(self->bindings[i]);
  ok = log_threaded_dest_driver_deinit_method(s);
  _release_bindings(self, TRUE);
  return ok;
}

static void
_free(LogPipe *s)
{
  WebsocketDestDriver *self = (WebsocketDestDriver *) s;

  log_template_unref(self->template);
  log_template_options_destroy(&self->template_options);
  websocket_options_destroy(&self->options);
  _release_bindings(self, FALSE);
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
  self->super.worker.construct = _construct_worker;
  websocket_compat_dest_init_stats(&self->super);
  /* The engine reconnects by itself and wakes the worker when it does; time-reopen() is only
     the fallback interval at which a suspended worker looks again. */
  self->super.time_reopen = 1;

  websocket_options_defaults(&self->options, WS_MODE_CLIENT);
  log_template_options_defaults(&self->template_options);
  return &self->super.super.super;
}
