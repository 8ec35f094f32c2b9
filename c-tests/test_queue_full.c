/* Backpressure: when the receiving side stops reading (its on_receive answers non-zero), the
   sender's kernel buffers fill, then its small queue (capacity 2): ws_send answers
   WS_ERR_QUEUE_FULL and queues nothing.  ws_request_writable then asks for on_writable, which
   fires once the receiver resumes (ws_rx_flow enable 1) and the queue drains.  Every accepted
   message, and the refused one sent again, arrives exactly once, in order.
   Run client->server and server->client.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_SIZE (64 * 1024)
#define MAX_TRIES 4000          /* 256 MiB: far above any loopback buffering */

static void
make_msg (uint8_t *buf, uint32_t i)
{
  fill_pattern (buf, MSG_SIZE, i);
  memcpy (buf, &i, sizeof i);
}

/* FROM sends on CONN until the queue is full; RECV_CTX/RECV_CONN is the paused reader.  */
static void
run (const char *what, ws_context *from, ws_conn_id conn, recorder *from_rec,
     ws_context *recv_ctx, ws_conn_id recv_conn, recorder *recv_rec)
{
  uint8_t *buf = malloc (MSG_SIZE);
  uint32_t accepted = 0, rejected = 0, i;
  int before_writables, base;
  ws_status st = WS_OK;
  ws_stats s0, s1;

  CHECK (buf != NULL);
  s0 = stats_of (from);
  test_lock ();
  base = recv_rec->receives;
  recv_rec->pause_on_receive = 1;   /* the first message pauses the reader */
  before_writables = from_rec->writables;
  test_unlock ();

  /* A full queue only proves the I/O thread is behind; it is stuck for real when a flush
     cannot finish either (every buffer up to the paused reader is full).  Until then, wait for
     the flush and go on sending.  */
  for (;;)
    {
      while (accepted < MAX_TRIES)
        {
          make_msg (buf, accepted);
          st = ws_send (from, conn, buf, MSG_SIZE, WS_MSG_BINARY);
          if (st != WS_OK)
            break;
          accepted++;
        }
      if (st != WS_ERR_QUEUE_FULL)
        FAIL ("%s: after %u messages ws_send answered %s, expected WS_ERR_QUEUE_FULL", what,
              accepted, ws_strerror (st));
      CHECK (ws_last_error ()[0] != '\0');
      rejected++;
      st = ws_flush (from, 300 * test_time_factor ());
      if (st == WS_ERR_TIMEOUT)
        break;
      CHECK_STATUS (st, WS_OK);
    }
  s1 = stats_of (from);
  CHECK_U64 (s1.send_rejected - s0.send_rejected, rejected);
  CHECK (s1.messages_queued > 0);
  /* The reader took exactly one message and paused.  */
  WAIT_UNTIL (recv_rec->receives >= base + 1);

  CHECK_OK (ws_request_writable (from, conn));
  test_lock ();
  recv_rec->pause_on_receive = 0;
  test_unlock ();
  CHECK_OK (ws_rx_flow (recv_ctx, recv_conn, 1));
  WAIT_UNTIL (from_rec->writables > before_writables);
  CHECK_INT (from_rec->last_writable == conn || conn == 0, 1);

  /* Room again: the refused message goes now.  */
  make_msg (buf, accepted);
  CHECK_OK (ws_send (from, conn, buf, MSG_SIZE, WS_MSG_BINARY));
  WAIT_UNTIL_MS (recv_rec->receives >= base + (int) accepted + 1, 30000);
  CHECK_OK (ws_flush (from, 5000));
  for (i = 0; i <= accepted; i++)
    {
      rec_msg *m = &recv_rec->msgs[base + (int) i];

      make_msg (buf, i);
      if (m->len != MSG_SIZE || memcmp (m->data, buf, MSG_SIZE) != 0)
        {
          uint32_t got = 0;

          if (m->len >= 4)
            memcpy (&got, m->data, 4);
          FAIL ("%s: message %u of %u is wrong (len %zu, number %u)", what, i, accepted,
                m->len, got);
        }
      free (m->data);
      m->data = NULL;
    }
  /* Exactly accepted + 1: nothing duplicated either (the sender is flushed).  */
  CHECK_INT (recv_rec->receives, base + (int) accepted + 1);
  printf ("%s: stuck after %u messages of %d bytes (%u times WS_ERR_QUEUE_FULL)\n", what,
          accepted, MSG_SIZE, rejected);
  free (buf);
}

int
main (void)
{
  recorder srv, cli;
  ws_options *o;
  ws_context *server, *client;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  o = server_options (&srv);
  CHECK_OK (ws_options_set_queue_capacity (o, 2));
  server = create_or_die (o, &srv);
  o = client_options (&cli, ws_local_port (server));
  CHECK_OK (ws_options_set_queue_capacity (o, 2));
  client = create_or_die (o, &cli);
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);

  run ("client->server", client, 0, &cli, server, srv.last_connect, &srv);
  run ("server->client", server, srv.last_connect, &srv, client, 0, &cli);

  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.errors + cli.errors, 0);
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
