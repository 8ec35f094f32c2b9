/*
 * websocket-source-acks.c: per-message acknowledgements from syslog-ng turned into cumulative
 * per-connection ws_acknowledge calls (see websocket-source-acks.h).
 */

#include "websocket-source-acks.h"
#include "messages.h"

struct _WebsocketSourceAcks
{
  gint ref_cnt;                 /* atomic */
  GMutex lock;
  ws_context *ctx;              /* NULL until the context exists, and once detached */
  gboolean detached;
  GHashTable *conns;            /* ws_conn_id -> WebsocketConnAcks */
};

typedef struct _WebsocketConnAcks
{
  ws_conn_id id;
  guint64 safe_upto;            /* every message up to this one is acknowledged to the engine */
  GHashTable *ahead;            /* numbers above safe_upto + 1 already safe (a set of guint64) */
} WebsocketConnAcks;

/* What a bookmark holds (in its container); a reference to `acks` while the message lives. */
typedef struct _WebsocketAckBookmark
{
  WebsocketSourceAcks *acks;
  ws_conn_id conn;
  guint64 seq;
  gboolean saved;
} WebsocketAckBookmark;

G_STATIC_ASSERT(sizeof(WebsocketAckBookmark) <= sizeof(((Bookmark *) 0)->container));

static void
_conn_free(gpointer p)
{
  WebsocketConnAcks *c = p;

  g_hash_table_destroy(c->ahead);
  g_free(c);
}

WebsocketSourceAcks *
websocket_source_acks_new(void)
{
  WebsocketSourceAcks *self = g_new0(WebsocketSourceAcks, 1);

  self->ref_cnt = 1;
  g_mutex_init(&self->lock);
  self->conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, _conn_free);
  return self;
}

void
websocket_source_acks_set_context(WebsocketSourceAcks *self, ws_context *ctx)
{
  g_mutex_lock(&self->lock);
  if (!self->detached)
    self->ctx = ctx;
  g_mutex_unlock(&self->lock);
}

WebsocketSourceAcks *
websocket_source_acks_ref(WebsocketSourceAcks *self)
{
  g_atomic_int_inc(&self->ref_cnt);
  return self;
}

void
websocket_source_acks_unref(WebsocketSourceAcks *self)
{
  if (!self || !g_atomic_int_dec_and_test(&self->ref_cnt))
    return;
  g_hash_table_destroy(self->conns);
  g_mutex_clear(&self->lock);
  g_free(self);
}

void
websocket_source_acks_detach(WebsocketSourceAcks *self)
{
  g_mutex_lock(&self->lock);
  self->ctx = NULL;
  self->detached = TRUE;
  g_hash_table_remove_all(self->conns);
  g_mutex_unlock(&self->lock);
}

void
websocket_source_acks_conn_open(WebsocketSourceAcks *self, ws_conn_id conn)
{
  WebsocketConnAcks *c = g_new0(WebsocketConnAcks, 1);

  c->id = conn;
  c->ahead = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  g_mutex_lock(&self->lock);
  if (!self->detached)
    g_hash_table_replace(self->conns, &c->id, c);
  else
    _conn_free(c);
  g_mutex_unlock(&self->lock);
}

void
websocket_source_acks_conn_close(WebsocketSourceAcks *self, ws_conn_id conn)
{
  g_mutex_lock(&self->lock);
  g_hash_table_remove(self->conns, &conn);
  g_mutex_unlock(&self->lock);
}

void
websocket_source_acks_message_safe(WebsocketSourceAcks *self, ws_conn_id conn, guint64 seq)
{
  WebsocketConnAcks *c;
  guint64 before;

  g_mutex_lock(&self->lock);
  c = self->ctx ? g_hash_table_lookup(self->conns, &conn) : NULL;
  /* A closed connection: its sender resends what it did not see acknowledged. */
  if (!c || seq <= c->safe_upto)
    goto out;
  before = c->safe_upto;
  if (seq != c->safe_upto + 1)
    {
      guint64 *key = g_new(guint64, 1);

      *key = seq;
      g_hash_table_add(c->ahead, key);
      goto out;
    }
  c->safe_upto = seq;
  while (g_hash_table_size(c->ahead) > 0)
    {
      guint64 next = c->safe_upto + 1;

      if (!g_hash_table_remove(c->ahead, &next))
        break;
      c->safe_upto = next;
    }
  if (c->safe_upto > before)
    {
      /* The engine batches what goes on the wire; WS_ERR_INVALID_ARGUMENT only means the
         connection is already gone (its on_close is on its way). */
      ws_status st = ws_acknowledge(self->ctx, conn, c->safe_upto);

      if (st != WS_OK && st != WS_ERR_INVALID_ARGUMENT)
        msg_debug("websocket: acknowledgement not sent", evt_tag_str("error", ws_strerror(st)));
    }
out:
  g_mutex_unlock(&self->lock);
}

void
websocket_source_acks_message_lost(WebsocketSourceAcks *self, ws_conn_id conn, guint64 seq)
{
  WebsocketConnAcks *c;

  g_mutex_lock(&self->lock);
  c = self->ctx ? g_hash_table_lookup(self->conns, &conn) : NULL;
  if (c && seq > c->safe_upto)
    {
      /* Acknowledgements are cumulative: without this message the connection's number could
         never pass it, and the sender would stop once its window is full. Closing makes the
         sender send everything unacknowledged again on its next connection. */
      msg_warning("websocket: syslog-ng did not store a message it received with acknowledgements (it was "
                  "aborted, e.g. its queue was discarded); closing the connection so that the sender sends it again",
                  evt_tag_long("conn", (glong) conn), evt_tag_long("seq", (glong) seq));
      ws_close_connection(self->ctx, conn, 1011, "a message was not stored; send again");
      g_hash_table_remove(self->conns, &conn);
    }
  g_mutex_unlock(&self->lock);
}

/* Bookmark hooks: save = the message is safe (syslog-ng's instant ack tracker calls it for a
   message acknowledged as processed, not for an aborted one); destroy = the message is gone,
   lost when it was never saved. */
static void
_bookmark_save(Bookmark *bookmark)
{
  WebsocketAckBookmark *b = (WebsocketAckBookmark *) &bookmark->container;

  b->saved = TRUE;
  if (b->acks)
    websocket_source_acks_message_safe(b->acks, b->conn, b->seq);
}

static void
_bookmark_destroy(Bookmark *bookmark)
{
  WebsocketAckBookmark *b = (WebsocketAckBookmark *) &bookmark->container;

  if (b->acks && !b->saved)
    websocket_source_acks_message_lost(b->acks, b->conn, b->seq);
  websocket_source_acks_unref(b->acks);
  b->acks = NULL;
}

void
websocket_source_acks_fill_bookmark(WebsocketSourceAcks *self, Bookmark *bookmark, ws_conn_id conn, guint64 seq)
{
  WebsocketAckBookmark *b;

  if (!bookmark || seq == 0)
    return;
  b = (WebsocketAckBookmark *) &bookmark->container;
  b->acks = websocket_source_acks_ref(self);
  b->conn = conn;
  b->seq = seq;
  b->saved = FALSE;
  bookmark->save = _bookmark_save;
  bookmark->destroy = _bookmark_destroy;
}
