/*
 * websocket-dest.c: the websocket() destination, a LogThreadedDestDriver with
 * LogThreadedDestWorkers (the same worker API on syslog-ng 3.38 and 4.x).
 *
 * Client mode: workers(N) (default 1) opens N connections, one engine context per worker;
 * syslog-ng spreads the messages over the workers, and each worker's messages go out on its
 * own connection in order. Each worker formats the template and queues the message in the engine with
 * ws_send_seq; the engine connects, reconnects and writes.
 *
 * Acknowledged when written: insert() answers LTR_EXPLICIT_ACK_MGMT, so the message stays in
 * syslog-ng's queue (its backlog, in the disk buffer when one is configured) until the engine's
 * on_sent reports it written completely to the socket; the worker thread then acknowledges it.
 * The engine numbers the messages of a context 1, 2, 3... in the order ws_send_seq accepted
 * them and writes them in that order, and one worker alone feeds a context, so its messages
 * are numbered in the order syslog-ng handed them over: acknowledging (written - acked)
 * messages acknowledges the oldest ones of the backlog, which are exactly the written ones.
 * Messages carried over a reconnect keep their numbers and are acknowledged once written.
 *
 * With acknowledgements(yes) the same holds with "acknowledged by the receiver" (on_acked) in
 * place of "written" (on_sent): the engine keeps written messages until the receiver
 * acknowledges them and resends the unacknowledged ones first after a reconnect, with their
 * numbers, so the count stays the same.
 *
 * Never rewind what the engine holds: syslog-ng answers LTR_NOT_CONNECTED (and LTR_ERROR,
 * LTR_DROP) by rewinding (dropping) the worker's whole unacknowledged batch, which would send
 * the messages the engine holds a second time and break the count. So while the engine holds
 * unacknowledged messages, a message the engine cannot take now (no connection, queue full) is
 * rewound alone (log_threaded_dest_worker_rewind_messages(1): the newest of the backlog) after
 * a bounded wait, and a message refused for good is acknowledged as dropped when every message
 * before it is acknowledged. With nothing unacknowledged, LTR_NOT_CONNECTED suspends the worker
 * as before until the engine reports a connection or room again.
 *
 * Server mode: every formatted message is broadcast to the connected subscribers. Slow
 * subscribers are handled by the engine's slow-policy; what the engine drops is added to this
 * driver's "dropped" counter. With no subscriber, no-subscriber("drop") (default) drops and
 * counts the message, no-subscriber("wait") keeps it in syslog-ng's queue until one connects.
 * With replay-retention() every message is broadcast whether or not anyone is subscribed: the
 * engine keeps it for subscribers that reconnect with ?since= (docs/replay.md).
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

  /* Acknowledgement (client mode). written_seq: set by on_sent, or by on_acked with
     acknowledgements(yes) (under state_lock); the rest
     belongs to the worker thread. Every message with a number in (acked_seq, last_seq] is in
     syslog-ng's backlog, unacknowledged, in number order; pending_drops holds, oldest first,
     the numbers after which a refused message waits in the backlog (acknowledged as dropped
     once every message up to that number is written). */
  guint64 written_seq;
  guint64 acked_seq;
  guint64 last_seq;
  GArray *pending_drops;
  guint pending_drops_head;
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

/* Client mode: with acknowledgements(yes) a message is acknowledged to syslog-ng once the
   receiver acknowledged it (on_acked), otherwise once it is written (on_sent). The counting
   model is the same: the engine numbers the messages, resends unacknowledged ones after a
   reconnect with their numbers, and reports a growing prefix. */
static void
_on_safe(WebsocketDestWorker *self, uint64_t upto_seq)
{
  g_mutex_lock(&self->state_lock);
  self->written_seq = MAX(self->written_seq, upto_seq);
  g_cond_broadcast(&self->state_cond);
  g_mutex_unlock(&self->state_lock);
  /* the acknowledgement is the worker thread's: syslog-ng's worker counters are its own */
  _post_wakeup(self);
}

static void
_on_sent(gpointer owner, ws_conn_id conn, uint64_t upto_seq)
{
  WebsocketDestWorker *self = owner;

  if (!self->driver->options.acknowledgements)
    _on_safe(self, upto_seq);
}

static void
_on_acked(gpointer owner, ws_conn_id conn, uint64_t upto_seq)
{
  _on_safe(owner, upto_seq);
}

static const WebsocketHandler websocket_dest_handler =
{
  .on_connect = _on_connect,
  .on_close = _on_close,
  .on_writable = _on_writable,
  .on_sent = _on_sent,
  .on_acked = _on_acked,
};

/* ----------------------------------------------------------------------------------------- */
/* Acknowledgement (client mode; the worker thread only). */

static guint
_pending_drops(WebsocketDestWorker *self)
{
  return self->pending_drops->len - self->pending_drops_head;
}

/* Messages in syslog-ng's backlog that this worker has not acknowledged yet. */
static guint64
_unacked(WebsocketDestWorker *self)
{
  return self->last_seq - self->acked_seq + _pending_drops(self);
}

/* syslog-ng's worker counts each message handed to insert() in batch_size until it is
   acknowledged, dropped or rewound, and while batch_size > 0 with an empty queue its loop
   flushes and runs again at once instead of sleeping until the next message (3.38 and 4.x
   alike, made for drivers that batch: "nothing in the queue, but there are pending elements in
   the buffer"). The messages the engine holds until on_sent/on_acked would keep it > 0 all the
   time, and the worker thread would spin on an empty queue, a loop turn (a poll syscall, a
   flush, the queue's lock) every few microseconds, taking CPU from the threads doing the work
   (docs/bench.md, "Acknowledgements on the syslog-ng path").
   So a message the engine holds is taken out of batch_size when insert() hands it over
   (_held_by_engine) and put back just before it is acknowledged or dropped (_release_held):
   batch_size stays the count of syslog-ng's own current insert, as for a driver that
   answers LTR_SUCCESS. The worker sleeps; the engine's callbacks wake it (_post_wakeup). */
static void
_held_by_engine(WebsocketDestWorker *self)
{
  self->super.batch_size--;
}

static void
_release_held(WebsocketDestWorker *self, gint n)
{
  self->super.batch_size += n;
}

static void
_ack_upto(WebsocketDestWorker *self, guint64 seq)
{
  gint n;

  if (seq <= self->acked_seq)
    return;
  n = (gint) (seq - self->acked_seq);
  _release_held(self, n);
  log_threaded_dest_worker_ack_messages(&self->super, n);
  self->acked_seq = seq;
}

/* Acknowledges, in backlog order, every message written since the last call and the refused
   messages that only waited for them. */
static void
_ack_written(WebsocketDestWorker *self)
{
  guint64 written;

  if (self->driver->options.mode != WS_MODE_CLIENT)
    return;
  g_mutex_lock(&self->state_lock);
  written = self->written_seq;
  g_mutex_unlock(&self->state_lock);
  /* Numbers up to the worker's start belong to an earlier configuration's worker (see
     _construct_worker); a number beyond last_seq cannot be reported for this worker. */
  written = MIN(MAX(written, self->acked_seq), self->last_seq);

  while (_pending_drops(self) > 0)
    {
      guint64 after = g_array_index(self->pending_drops, guint64, self->pending_drops_head);

      if (after > written)
        break;
      _ack_upto(self, after);
      _release_held(self, 1);
      log_threaded_dest_worker_drop_messages(&self->super, 1);
      self->pending_drops_head++;
    }
  if (_pending_drops(self) == 0)
    {
      g_array_set_size(self->pending_drops, 0);
      self->pending_drops_head = 0;
    }
  _ack_upto(self, written);
}

/* A message refused for good (too large, invalid): dropped in its turn (syslog-ng acknowledges
   the oldest messages of the backlog first, and the ones before it may be unwritten). */
static LogThreadedResult
_drop_in_turn(WebsocketDestWorker *self)
{
  if (self->driver->options.mode != WS_MODE_CLIENT)
    return LTR_DROP;
  g_array_append_val(self->pending_drops, self->last_seq);
  _held_by_engine(self);
  _ack_written(self);
  return LTR_EXPLICIT_ACK_MGMT;
}

/* The engine cannot take the message now. With nothing unacknowledged, LTR_NOT_CONNECTED
   (syslog-ng rewinds the one message and suspends the worker); otherwise the message alone
   goes back to the queue, after a bounded wait, so that syslog-ng does not rewind what the
   engine holds (see the top of the file). */
static LogThreadedResult
_retry_later(WebsocketDestWorker *self)
{
  if (self->driver->options.mode != WS_MODE_CLIENT || _unacked(self) == 0)
    return LTR_NOT_CONNECTED;
  log_threaded_dest_worker_rewind_messages(&self->super, 1);
  _ack_written(self);
  return LTR_EXPLICIT_ACK_MGMT;
}

static LogThreadedResult
_flush(LogThreadedDestWorker *s, LogThreadedFlushMode mode)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  /* The default flush answers LTR_SUCCESS, which acknowledges the whole batch: the client's
     messages are acknowledged when written, nothing else. */
  if (self->driver->options.mode != WS_MODE_CLIENT)
    return LTR_SUCCESS;
  _ack_written(self);
  return LTR_EXPLICIT_ACK_MGMT;
}

/* ----------------------------------------------------------------------------------------- */
/* Worker (one syslog-ng destination thread each). */

static void
_wakeup_handler(void *cookie)
{
  WebsocketDestWorker *self = cookie;

  _ack_written(self);
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
_wait_connected_briefly(WebsocketDestWorker *self)
{
  g_mutex_lock(&self->state_lock);
  _wait_state(self, _is_connected);
  g_mutex_unlock(&self->state_lock);
  return _is_connected(self);
}

/* Server with replay-retention(): every line is broadcast, subscribed or not, so that a subscriber
   that reconnects with ?since= gets it (docs/replay.md); no-subscriber() does not apply. */
static gboolean
_retains(WebsocketDestWorker *self)
{
  return self->driver->options.mode == WS_MODE_SERVER && self->driver->options.replay_retention > 0;
}

static gboolean
_connect(LogThreadedDestWorker *s)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  /* Server mode has nothing to connect. With no-subscriber("wait") the worker stays suspended
     until a subscriber connects (on_connect wakes it); with "drop" the messages are handled
     one by one in insert(). */
  if (self->driver->options.mode == WS_MODE_SERVER)
    return self->driver->no_subscriber == WEBSOCKET_NO_SUBSCRIBER_DROP || _retains(self) || _is_connected(self);

  /* The engine connects in the background and reports it through on_connect (which also wakes
     a suspended worker); waiting briefly here spares the first messages a suspend cycle. */
  return _wait_connected_briefly(self);
}

static gboolean
_is_disconnected(WebsocketDestWorker *self)
{
  return !_is_connected(self);
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

  uint64_t seq = 0;
  ws_status st;

  if (self->driver->options.mode == WS_MODE_SERVER)
    return ws_broadcast(self->binding->ctx, self->buffer->str, self->buffer->len, type);
  st = ws_send_seq(self->binding->ctx, 0, self->buffer->str, self->buffer->len, type, &seq);
  if (st == WS_OK)
    {
      self->last_seq = seq;
      self->binding->last_seq = seq;
    }
  return st;
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

  _ack_written(self);
  if (!_is_connected(self) && !_retains(self))
    {
      /* Client: suspended as before when nothing is unacknowledged; otherwise waits
         (bounded) for the reconnect, as suspending would rewind what the engine holds. */
      if (driver->options.mode == WS_MODE_CLIENT)
        {
          if (_unacked(self) == 0 || !_wait_connected_briefly(self))
            return _retry_later(self);
        }
      else if (driver->no_subscriber == WEBSOCKET_NO_SUBSCRIBER_WAIT)
        return LTR_NOT_CONNECTED;
      else
        {
          /* no-subscriber("drop"): counted as dropped; warned once per period without
             subscribers. */
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
      /* client: acknowledged when written (_ack_written) */
      if (driver->options.mode != WS_MODE_CLIENT)
        return LTR_SUCCESS;
      _held_by_engine(self);
      return LTR_EXPLICIT_ACK_MGMT;
    case WS_ERR_NOT_CONNECTED:
    case WS_ERR_CLOSED:
      /* The engine saw the connection go before on_close reached us: wait for it (bounded), so
         that the next insert waits for the reconnect instead of trying again at once. */
      g_mutex_lock(&self->state_lock);
      _wait_state(self, _is_disconnected);
      g_mutex_unlock(&self->state_lock);
      return _retry_later(self);
    case WS_ERR_QUEUE_FULL:
      return _retry_later(self);
    case WS_ERR_TOO_LARGE:
      msg_error("websocket: message larger than max-message-size(), dropped",
                evt_tag_str("driver", driver_id), evt_tag_long("size", (glong) self->buffer->len));
      return _drop_in_turn(self);
    case WS_ERR_INVALID_ARGUMENT:
      msg_error("websocket: message refused by the engine (a text message must be valid UTF-8; "
                "message-type(\"binary\") sends any bytes), dropped",
                evt_tag_str("driver", driver_id), evt_tag_str("detail", ws_last_error()));
      return _drop_in_turn(self);
    default:
      msg_error("websocket: sending failed", evt_tag_str("driver", driver_id),
                evt_tag_str("error", ws_strerror(st)), evt_tag_str("detail", ws_last_error()));
      /* LTR_ERROR would rewind what the engine holds too */
      if (driver->options.mode == WS_MODE_CLIENT && _unacked(self) > 0)
        return _retry_later(self);
      return LTR_ERROR;
    }
}

static void
_worker_free(LogThreadedDestWorker *s)
{
  WebsocketDestWorker *self = (WebsocketDestWorker *) s;

  g_string_free(self->buffer, TRUE);
  g_array_free(self->pending_drops, TRUE);
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
  self->super.flush = _flush;
  self->super.free_fn = _worker_free;

  self->driver = driver;
  self->binding = driver->bindings[worker_index % driver->num_bindings];
  self->buffer = g_string_sized_new(1024);
  self->pending_drops = g_array_new(FALSE, FALSE, sizeof(guint64));
  /* A context kept over a reload may still hold (and later report written) messages the
     previous configuration's worker took: they were not acknowledged by it, so syslog-ng still
     holds them and sends them again (at-least-once); this worker counts only its own. */
  self->acked_seq = self->last_seq = self->written_seq = self->binding->last_seq;
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
