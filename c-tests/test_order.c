/* Order of 100,000 messages in each direction: every message carries its sequence number and
   the receiver checks that it gets 0, 1, 2, ... with no gap and no duplicate.  The sender goes
   as fast as it can; when the queue is full it waits for on_writable (asked with
   ws_request_writable) and retries the same message, so backpressure must not reorder or lose
   anything.  The server's queue is small (256) so that this path runs many times.
   Under valgrind (WS_UNDER_VALGRIND=1) the count is divided by 5.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct side
{
  recorder rec;                 /* connect/close/error bookkeeping (keep = 0) */
  uint64_t expected;            /* next sequence number */
  uint64_t out_of_order;
  uint64_t first_bad_got, first_bad_expected;
  int writables;
} side;

static side srv_side, cli_side;

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  recorder_callbacks.on_connect (ctx, conn, &((side *) user)->rec);
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  recorder_callbacks.on_close (ctx, conn, code, reason, &((side *) user)->rec);
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status st, const char *msg, void *user)
{
  recorder_callbacks.on_error (ctx, conn, st, msg, &((side *) user)->rec);
}

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
            ws_msg_type type, void *user)
{
  side *s = user;
  char buf[32];
  unsigned long long got = 0;

  (void) ctx;
  (void) conn;
  /* Text "<seq>", so that a message can be told apart from its neighbours by content.  */
  if (type == WS_MSG_TEXT && len < sizeof buf)
    {
      memcpy (buf, data, len);
      buf[len] = '\0';
      if (sscanf (buf, "%llu", &got) != 1)
        got = UINT64_MAX;
    }
  else
    got = UINT64_MAX;

  test_lock ();
  if (got != s->expected && s->out_of_order++ == 0)
    {
      s->first_bad_got = got;
      s->first_bad_expected = s->expected;
    }
  s->expected++;
  s->rec.receives++;
  test_signal ();
  test_unlock ();
  return 0;
}

static void
on_writable (ws_context *ctx, ws_conn_id conn, void *user)
{
  side *s = user;

  (void) ctx;
  (void) conn;
  test_lock ();
  s->writables++;
  test_signal ();
  test_unlock ();
}

static const ws_callbacks cbs = {
  .on_connect = on_connect,
  .on_receive = on_receive,
  .on_writable = on_writable,
  .on_close = on_close,
  .on_error = on_error,
};

/* Sends N numbered messages from FROM (on connection CONN), waiting for on_writable whenever
   the queue is full.  Answers how many times the queue was full.  */
static uint64_t
send_all (ws_context *from, ws_conn_id conn, side *from_side, unsigned n)
{
  uint64_t full = 0;
  unsigned i;
  char buf[32];

  for (i = 0; i < n; i++)
    {
      int len = snprintf (buf, sizeof buf, "%u", i);
      ws_status st;

      while ((st = ws_send (from, conn, buf, (size_t) len, WS_MSG_TEXT)) == WS_ERR_QUEUE_FULL)
        {
          int before;

          full++;
          test_lock ();
          before = from_side->writables;
          test_unlock ();
          CHECK_OK (ws_request_writable (from, conn));
          WAIT_UNTIL (from_side->writables > before);
        }
      if (st != WS_OK)
        FAIL ("ws_send of message %u answered %s", i, ws_strerror (st));
    }
  return full;
}

static void
check_side (side *s, unsigned n, const char *what)
{
  if (s->out_of_order != 0)
    FAIL ("%s: %llu messages out of order; first: got %llu, expected %llu", what,
          (unsigned long long) s->out_of_order, (unsigned long long) s->first_bad_got,
          (unsigned long long) s->first_bad_expected);
  CHECK_U64 (s->expected, n);
}

int
main (void)
{
  unsigned n = test_scaled (100000, 2000);
  ws_options *o;
  ws_context *server, *client;
  ws_conn_id srv_conn;
  ws_stats cs, ss;
  uint64_t full_c, full_s;

  recorder_init (&srv_side.rec, "server");
  recorder_init (&cli_side.rec, "client");

  o = server_options (NULL);
  CHECK_OK (ws_options_set_callbacks (o, &cbs, &srv_side));
  CHECK_OK (ws_options_set_queue_capacity (o, 256));
  server = create_or_die (o, NULL);
  srv_side.rec.ctx = server;
  o = client_options (NULL, ws_local_port (server));
  CHECK_OK (ws_options_set_callbacks (o, &cbs, &cli_side));
  client = create_or_die (o, NULL);
  cli_side.rec.ctx = client;
  WAIT_UNTIL (srv_side.rec.connects == 1 && cli_side.rec.connects == 1);
  srv_conn = srv_side.rec.last_connect;

  /* Client to server (client conn 0 = the current connection).  */
  full_c = send_all (client, 0, &cli_side, n);
  WAIT_UNTIL_MS (srv_side.expected >= n || srv_side.out_of_order != 0, 60000);
  check_side (&srv_side, n, "client->server");

  /* Server to client, through the small per-connection queue.  */
  full_s = send_all (server, srv_conn, &srv_side, n);
  WAIT_UNTIL_MS (cli_side.expected >= n || cli_side.out_of_order != 0, 60000);
  check_side (&cli_side, n, "server->client");

  /* Sent counters are final once flushed (a peer may read before its sender counts).  */
  CHECK_OK (ws_flush (client, 5000));
  CHECK_OK (ws_flush (server, 5000));
  cs = stats_of (client);
  ss = stats_of (server);
  CHECK_U64 (cs.messages_sent, n);
  CHECK_U64 (cs.messages_received, n);
  CHECK_U64 (ss.messages_sent, n);
  CHECK_U64 (ss.messages_received, n);
  CHECK_U64 (cs.send_rejected, full_c);
  CHECK_U64 (ss.send_rejected, full_s);
  CHECK_U64 (ss.messages_queued, 0);
  CHECK_U64 (ss.messages_dropped, 0);
  printf ("%u messages each way; queue full %llu times (client) and %llu times (server)\n", n,
          (unsigned long long) full_c, (unsigned long long) full_s);

  CHECK_U64 (destroy_or_die (client, 5000), 0);
  CHECK_U64 (destroy_or_die (server, 5000), 0);
  CHECK_INT (srv_side.rec.errors + cli_side.rec.errors, 0);
  CHECK_INT (srv_side.rec.bad_id + cli_side.rec.bad_id, 0);
  return 0;
}
