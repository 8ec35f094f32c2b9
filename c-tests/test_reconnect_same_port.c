/* A server destroyed and recreated on the same port while the client keeps sending: a thread
   sends numbered messages without pause while the first server is destroyed; the rest is
   queued while no server exists; a second server on the same port then gets everything left.
   Across both servers every message arrives exactly once and in order (graceful destroy:
   the server's 1001 close handshake lets it read what the client wrote before the close).  */

#include "common.h"

#include <stdio.h>
#include <string.h>

static struct
{
  uint64_t expected;            /* next number, across both servers */
  uint64_t bad;                 /* out of order, duplicated or missing */
  uint64_t first_bad_got, first_bad_expected;
  int per_server[2];
  int which;                    /* index of the server being recorded */
  int client_writables;
} g;

static recorder srv_rec[2], cli_rec;
static ws_context *client;
static unsigned n_total, n_first;

static int
srv_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
             ws_msg_type type, void *user)
{
  char buf[32];
  unsigned long long got = UINT64_MAX;

  (void) ctx;
  (void) conn;
  (void) type;
  if (len < sizeof buf)
    {
      memcpy (buf, data, len);
      buf[len] = '\0';
      if (sscanf (buf, "%llu", &got) != 1)
        got = UINT64_MAX;
    }
  test_lock ();
  if (got != g.expected && g.bad++ == 0)
    {
      g.first_bad_got = got;
      g.first_bad_expected = g.expected;
    }
  g.expected = got + 1;         /* resynchronise: count each later defect once */
  g.per_server[(recorder *) user == &srv_rec[1]]++;
  test_signal ();
  test_unlock ();
  return 0;
}

static void
srv_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  recorder_callbacks.on_connect (ctx, conn, user);
}

static void
srv_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  recorder_callbacks.on_close (ctx, conn, code, reason, user);
}

static const ws_callbacks srv_cbs = {
  .on_connect = srv_connect,
  .on_receive = srv_receive,
  .on_close = srv_close,
};

/* Sends numbers FROM .. TO-1 as fast as the queue takes them.  */
static void
send_range (unsigned from, unsigned to)
{
  char buf[32];
  unsigned i;

  for (i = from; i < to; i++)
    {
      int len = snprintf (buf, sizeof buf, "%u", i);
      ws_status st;

      while ((st = ws_send (client, 0, buf, (size_t) len, WS_MSG_TEXT)) == WS_ERR_QUEUE_FULL)
        {
          int before;

          test_lock ();
          before = cli_rec.writables;
          test_unlock ();
          CHECK_OK (ws_request_writable (client, 0));
          WAIT_UNTIL (cli_rec.writables > before);
        }
      if (st != WS_OK)
        FAIL ("ws_send of %u answered %s", i, ws_strerror (st));
    }
}

static void *
sender (void *arg)
{
  (void) arg;
  send_range (0, n_first);
  return NULL;
}

static ws_context *
make_server (int which, uint16_t port)
{
  ws_options *o = server_options (NULL);

  CHECK_OK (ws_options_set_port (o, port));
  CHECK_OK (ws_options_set_callbacks (o, &srv_cbs, &srv_rec[which]));
  return create_or_die (o, &srv_rec[which]);
}

int
main (void)
{
  ws_context *server;
  uint16_t port;
  pthread_t t;
  ws_stats st;

  n_total = test_scaled (40000, 2000);
  n_first = n_total / 2;
  recorder_init (&srv_rec[0], "server 1");
  recorder_init (&srv_rec[1], "server 2");
  recorder_init (&cli_rec, "client");

  server = make_server (0, 0);
  port = ws_local_port (server);
  client = start_client (&cli_rec, port);
  WAIT_UNTIL (cli_rec.connects == 1 && srv_rec[0].connects == 1);

  /* The thread keeps sending while the server goes away under it.  */
  CHECK (pthread_create (&t, NULL, sender, NULL) == 0);
  WAIT_UNTIL (g.per_server[0] >= (int) n_first / 8);
  destroy_or_die (server, 2000);
  CHECK_INT (srv_rec[0].closes, 1);
  WAIT_UNTIL (cli_rec.closes == 1);
  CHECK_INT (cli_rec.last_close_code, 1001);
  CHECK (pthread_join (t, NULL) == 0);

  /* No server now: these are queued and must go out after the reconnect.  */
  send_range (n_first, n_total);

  server = make_server (1, port);
  CHECK_INT (ws_local_port (server), port);
  WAIT_UNTIL_MS (g.expected >= n_total || g.bad != 0, 60000);
  CHECK_OK (ws_flush (client, 5000));
  test_lock ();
  if (g.bad != 0)
    {
      test_unlock ();
      FAIL ("%llu defects; first: got %llu, expected %llu (server 1 got %d, server 2 %d)",
            (unsigned long long) g.bad, (unsigned long long) g.first_bad_got,
            (unsigned long long) g.first_bad_expected, g.per_server[0], g.per_server[1]);
    }
  test_unlock ();
  CHECK_U64 (g.expected, n_total);
  CHECK_INT (g.per_server[0] + g.per_server[1], n_total);
  CHECK (g.per_server[1] >= (int) (n_total - n_first));
  printf ("%u messages: %d to the first server, %d to the second\n", n_total, g.per_server[0],
          g.per_server[1]);

  CHECK_INT (cli_rec.connects, 2);
  CHECK_INT (srv_rec[1].connects, 1);
  st = stats_of (client);
  CHECK (st.reconnects >= 1);
  CHECK_U64 (st.connections_total, 2);
  CHECK_U64 (st.messages_sent, n_total);
  CHECK_U64 (st.messages_queued, 0);
  CHECK_U64 (st.messages_dropped, 0);

  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (cli_rec.bad_id + srv_rec[0].bad_id + srv_rec[1].bad_id, 0);
  return 0;
}
