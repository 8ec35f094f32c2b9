/*
 * websocket-source.c: the websocket() source, a LogThreadedSourceDriver with one thread
 * (a LogThreadedSourceWorker on syslog-ng 4.x; see websocket-compat.h).
 *
 * Server mode (the default) accepts WebSocket clients; client mode connects out to a WebSocket
 * server and ingests what it pushes, the engine reconnecting with backoff. Both work the same
 * way from here on.
 *
 * The engine runs in WS_DISPATCH_MANUAL mode: its callbacks wait in the engine until this
 * driver's worker thread calls ws_dispatch, so every message is posted from syslog-ng's own
 * source thread. Each WebSocket message becomes one log message (newlines inside it are kept;
 * trailing CR/LF characters are removed), with the peer's address as SOURCEIP / HOST_FROM.
 *
 * Flow control: callbacks are dispatched in batches no larger than the room left in the
 * source's window (up to 64), so a message is only ever posted while the window has room. When
 * a message fills the window, reading from every connection is paused (ws_rx_flow)
 * so the engine's pending events stay bounded and TCP pushes back on the clients; when
 * syslog-ng frees the window (the wakeup callback) reading resumes. Nothing is dropped.
 *
 * acknowledgements(yes) (server mode): the engine numbers each connection's messages and
 * acknowledges to the sender only what this driver says is safe (WS_ACK_MANUAL). Each posted
 * message carries a bookmark of an instant ack tracker naming its connection and number; when
 * syslog-ng acknowledges the message (the destination wrote it, under flow control, or a
 * reliable disk buffer holds it) the bookmark is saved and websocket-source-acks.c advances the
 * connection's contiguous acknowledged prefix (ws_acknowledge).
 */

#include "websocket-source.h"
#include "websocket-binding.h"
#include "websocket-compat.h"
#include "messages.h"
#include "logmsg/logmsg.h"
#include "msg-format.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct _WebsocketSourceDriver
{
  LogThreadedSourceDriver super;
  WebsocketOptions options;
  gchar *persist_key;
  WebsocketBinding *binding;
  int wake_fd;
  WebsocketSourcePoster *poster; /* set while the thread runs */
  gint exit_requested;          /* atomic */
  gboolean reading_paused;      /* worker thread only */
} WebsocketSourceDriver;

WebsocketOptions *
websocket_sd_get_options(LogDriver *s)
{
  return &((WebsocketSourceDriver *) s)->options;
}

gboolean
websocket_sd_check(LogDriver *s, GError **error)
{
  WebsocketSourceDriver *self = (WebsocketSourceDriver *) s;

  return websocket_options_validate(&self->options, TRUE, error);
}

static void
_wake(WebsocketSourceDriver *self)
{
  uint64_t one = 1;

  /* A full eventfd counter (EAGAIN) is already a pending wakeup. */
  if (write(self->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
    msg_error("websocket: cannot wake the source thread", evt_tag_error("error"));
}

/* Pauses or resumes reading from every connection; the binding's lock is held. */
static void
_set_reading_locked(WebsocketSourceDriver *self, gboolean enable)
{
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init(&it, self->binding->peers);
  while (g_hash_table_iter_next(&it, &key, &value))
    {
      WebsocketPeer *peer = value;

      if (peer->paused == !enable)
        continue;
      ws_rx_flow(self->binding->ctx, *(ws_conn_id *) key, enable);
      peer->paused = !enable;
    }
  self->reading_paused = !enable;
}

/* ----------------------------------------------------------------------------------------- */
/* Engine callbacks: run by ws_dispatch on the worker thread, the binding's lock held. */

static int
_on_receive(gpointer owner, ws_conn_id conn, const uint8_t *data, size_t len, ws_msg_type type)
{
  WebsocketSourceDriver *self = owner;
  WebsocketPeer *peer = g_hash_table_lookup(self->binding->peers, &conn);
  LogMessage *msg;

  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;

  msg = msg_format_parse(&self->super.worker_options.parse_options, data, len);
  if (peer && peer->addr)
    log_msg_set_saddr(msg, peer->addr);
  /* Requested right before the post, which attaches it to this message. */
  if (self->binding->acks)
    websocket_source_acks_fill_bookmark(self->binding->acks, websocket_compat_source_request_bookmark(self->poster),
                                        conn, ws_received_seq(self->binding->ctx, conn));
  websocket_compat_source_post(self->poster, msg);

  if (!websocket_compat_source_free_to_send(self->poster))
    {
      /* The window is full: stop reading everywhere until syslog-ng frees it. */
      _set_reading_locked(self, FALSE);
      return 1;
    }
  return 0;
}

static void
_on_connect(gpointer owner, ws_conn_id conn)
{
  WebsocketSourceDriver *self = owner;
  WebsocketPeer *peer = g_hash_table_lookup(self->binding->peers, &conn);

  /* A connection opened while reading is paused waits like the others. */
  if (self->reading_paused && peer && !peer->paused)
    {
      ws_rx_flow(self->binding->ctx, conn, 0);
      peer->paused = TRUE;
    }
}

static const WebsocketHandler websocket_source_handler =
{
  .on_connect = _on_connect,
  .on_receive = _on_receive,
};

/* ----------------------------------------------------------------------------------------- */
/* The worker thread */

/* Events dispatched per ws_dispatch call at most (fewer when the window has less room). Each
   call reads the engine's event fd and, while more events wait, writes it again, and the loop
   polls it: batching spreads these three system calls over many messages instead of paying
   them per message. Small enough that an exit request waits only for a few dozen callbacks. */
#define WEBSOCKET_SOURCE_DISPATCH_BATCH 64

static gboolean
_event_pending(int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };

  return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void
websocket_sd_run(LogThreadedSourceDriver *s, WebsocketSourcePoster *poster)
{
  WebsocketSourceDriver *self = (WebsocketSourceDriver *) s;
  int event_fd = ws_event_fd(self->binding->ctx);

  self->poster = poster;
  while (!g_atomic_int_get(&self->exit_requested))
    {
      gsize room = websocket_compat_source_window_room(poster);
      struct pollfd fds[2] = { { .fd = self->wake_fd, .events = POLLIN }, { .fd = event_fd, .events = POLLIN } };
      uint64_t counter;

      if (room > 0 && self->reading_paused)
        {
          g_mutex_lock(&self->binding->lock);
          _set_reading_locked(self, TRUE);
          g_mutex_unlock(&self->binding->lock);
        }

      /* Batches of at most `room` events: each event posts at most one message (on_receive
         one, the others none), only this thread posts and acknowledgements only widen the
         window, so a receive callback is only ever dispatched when its message can be posted,
         and the message that closes the window is the batch's last. The window is re-read
         before each batch. */
      while (room > 0 && !g_atomic_int_get(&self->exit_requested) && _event_pending(event_fd))
        {
          ws_dispatch(self->binding->ctx, (uint32_t) MIN(room, WEBSOCKET_SOURCE_DISPATCH_BATCH));
          room = websocket_compat_source_window_room(poster);
        }
      websocket_compat_source_close_batch(poster);
      if (g_atomic_int_get(&self->exit_requested))
        break;

      /* Sleep until the engine has events (only watched while the window has room) or the
         wakeup (window freed, or exit requested) arrives. */
      if (poll(fds, room > 0 ? 2 : 1, -1) < 0 && errno != EINTR)
        {
          msg_error("websocket: poll() failed in the source thread", evt_tag_error("error"));
          break;
        }
      if (fds[0].revents & POLLIN)
        {
          if (read(self->wake_fd, &counter, sizeof(counter)) < 0 && errno != EAGAIN)
            msg_error("websocket: cannot read the wakeup counter", evt_tag_error("error"));
        }
    }
  self->poster = NULL;
}

void
websocket_sd_request_exit(LogThreadedSourceDriver *s)
{
  WebsocketSourceDriver *self = (WebsocketSourceDriver *) s;

  g_atomic_int_set(&self->exit_requested, TRUE);
  _wake(self);
}

void
websocket_sd_wakeup(LogThreadedSourceDriver *s)
{
  _wake((WebsocketSourceDriver *) s);
}

/* ----------------------------------------------------------------------------------------- */
/* LogPipe */

static const gchar *
_generate_persist_name(const LogPipe *s)
{
  const WebsocketSourceDriver *self = (const WebsocketSourceDriver *) s;
  static gchar persist_name[1024];

  return websocket_options_persist_name(&self->options, "websocket-source", persist_name, sizeof(persist_name));
}

static gboolean
_init(LogPipe *s)
{
  WebsocketSourceDriver *self = (WebsocketSourceDriver *) s;

  /* Taking over the previous configuration's context keeps the listening socket (or the
     client connection), the connections and the events not yet dispatched: a reload loses
     nothing. */
  g_free(self->persist_key);
  self->persist_key = websocket_binding_persist_key(s, "source");
  self->binding = websocket_binding_acquire(log_pipe_get_config(s), self->persist_key, &self->options,
                                            WS_DISPATCH_MANUAL, TRUE, self->super.super.super.id);
  if (!self->binding)
    return FALSE;
  /* Connections the previous driver paused are resumed by the thread once it sees room. */
  self->reading_paused = TRUE;
  websocket_binding_attach(self->binding, self, &websocket_source_handler);

  g_atomic_int_set(&self->exit_requested, FALSE);
  /* Bookmarks saved message by message as syslog-ng acknowledges them (the default tracker of a
     threaded source keeps none). */
  if (self->options.acknowledgements)
    websocket_compat_source_use_instant_acks(&self->super);
  if (!log_threaded_source_driver_init_method(s))
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
  WebsocketSourceDriver *self = (WebsocketSourceDriver *) s;
  gboolean ok = log_threaded_source_driver_deinit_method(s);

  if (self->binding)
    {
      websocket_binding_keep(self->binding, log_pipe_get_config(s), self->persist_key);
      self->binding = NULL;
    }
  return ok;
}

static void
_free(LogPipe *s)
{
  WebsocketSourceDriver *self = (WebsocketSourceDriver *) s;

  websocket_options_destroy(&self->options);
  g_free(self->persist_key);
  if (self->wake_fd >= 0)
    close(self->wake_fd);
  log_threaded_source_driver_free_method(s);
}

LogDriver *
websocket_sd_new(GlobalConfig *cfg)
{
  WebsocketSourceDriver *self = g_new0(WebsocketSourceDriver, 1);

  log_threaded_source_driver_init_instance(&self->super, cfg);
  self->super.super.super.super.init = _init;
  self->super.super.super.super.deinit = _deinit;
  self->super.super.super.super.free_fn = _free;
  self->super.super.super.super.generate_persist_name = _generate_persist_name;
  websocket_compat_source_init_stats(&self->super);
  websocket_compat_source_init_thread(&self->super);

  websocket_options_defaults(&self->options, WS_MODE_SERVER);
  self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return &self->super.super.super;
}
