/* End-to-end acknowledgements through the C API (docs/acks.md): the option checks
   (ws_options_set_acknowledgements, ws_options_set_ack_window, ws_options_set_on_acked), a
   WS_ACK_MANUAL server reading ws_received_seq inside on_receive (1, 2, 3, ... in order) and
   acknowledging from the main thread with ws_acknowledge (beyond what was received:
   WS_ERR_INVALID_ARGUMENT), a client's on_acked reaching exactly what was acknowledged, and
   ws_stats.messages_acked_seq / messages_resent.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

#define N 30

/* The server side, with callbacks of its own (the recorder cannot read ws_received_seq).  */
typedef struct rx_log
{
  ws_conn_id conn;
  int connects;
  int receives;
  int out_of_order;             /* ws_received_seq inside on_receive was not receives + 1 */
} rx_log;

static rx_log rx;

static void
rx_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  rx_log *l = user;

  (void) ctx;
  test_lock ();
  l->conn = conn;
  l->connects++;
  test_signal ();
  test_unlock ();
}

static int
rx_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
            ws_msg_type type, void *user)
{
  rx_log *l = user;
  uint64_t seq = ws_received_seq (ctx, conn);

  (void) data;
  (void) len;
  (void) type;
  test_lock ();
  if (seq != (uint64_t) l->receives + 1)
    l->out_of_order = 1;
  l->receives++;
  test_signal ();
  test_unlock ();
  return 0;
}

typedef struct acked_log
{
  uint64_t last;
  int calls;
  int went_back;
} acked_log;

static acked_log acked;

static void
on_acked (ws_context *ctx, ws_conn_id conn, uint64_t upto_seq, void *user)
{
  acked_log *l = user;

  (void) ctx;
  (void) conn;
  test_lock ();
  if (upto_seq <= l->last)
    l->went_back = 1;
  l->last = upto_seq;
  l->calls++;
  test_signal ();
  test_unlock ();
}

int
main (void)
{
  recorder cli;
  ws_context *server, *client;
  ws_options *o;
  ws_callbacks cbs;
  ws_stats s;
  ws_conn_id conn;
  uint64_t seq;
  char buf[32];
  int i;

  recorder_init (&cli, "client");

  /* Option checks.  */
  CHECK_STATUS (ws_options_set_acknowledgements (NULL, WS_ACK_AUTO), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_ack_window (NULL, 8), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_on_acked (NULL, on_acked, NULL), WS_ERR_INVALID_ARGUMENT);
  o = server_options (NULL);
  CHECK_STATUS (ws_options_set_acknowledgements (o, (ws_ack_mode) 3), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_ack_window (o, 8), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_on_acked (o, on_acked, &acked), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_options_set_acknowledgements (o, WS_ACK_MANUAL));
  memset (&cbs, 0, sizeof cbs);
  cbs.on_connect = rx_connect;
  cbs.on_receive = rx_receive;
  CHECK_OK (ws_options_set_callbacks (o, &cbs, &rx));
  CHECK_OK (ws_context_create (o, &server));
  ws_options_free (o);

  CHECK_STATUS (ws_acknowledge (NULL, 1, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (ws_received_seq (NULL, 1), 0);
  CHECK_STATUS (ws_acknowledge (server, 1, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_acknowledge (server, 1, 0));

  o = client_options (&cli, ws_local_port (server));
  CHECK_STATUS (ws_options_set_ack_window (o, 0), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_ack_window (o, (size_t) 1 << 21), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_options_set_ack_window (o, 16));
  CHECK_OK (ws_options_set_acknowledgements (o, WS_ACK_AUTO));
  CHECK_OK (ws_options_set_on_acked (o, NULL, NULL));   /* NULL removes: allowed */
  CHECK_OK (ws_options_set_on_acked (o, on_acked, &acked));
  client = create_or_die (o, &cli);
  WAIT_UNTIL (rx.connects == 1 && cli.connects == 1);

  for (i = 0; i < N; i++)
    {
      int len = snprintf (buf, sizeof buf, "%d", i);

      CHECK_OK (ws_send_seq (client, 0, buf, (size_t) len, WS_MSG_TEXT, &seq));
      CHECK_U64 (seq, (uint64_t) i + 1);
    }
  /* A window of 16: the server receives 16 until it acknowledges.  */
  WAIT_UNTIL (rx.receives == 16);
  test_lock ();
  conn = rx.conn;
  CHECK (!rx.out_of_order);
  test_unlock ();
  CHECK_U64 (ws_received_seq (server, conn), 16);
  CHECK_STATUS (ws_acknowledge (server, conn, 17), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (stats_of (client).messages_acked_seq, 0);

  CHECK_OK (ws_acknowledge (server, conn, 10));
  WAIT_UNTIL (acked.last == 10 && rx.receives == 26);
  CHECK_OK (ws_acknowledge (server, conn, 5));  /* already covered: nothing changes */
  CHECK_OK (ws_acknowledge (server, conn, 26));
  WAIT_UNTIL (rx.receives == N);
  CHECK_OK (ws_acknowledge (server, conn, N));
  WAIT_UNTIL (acked.last == N);

  test_lock ();
  CHECK (!acked.went_back);
  CHECK (!rx.out_of_order);
  CHECK (acked.calls >= 2 && acked.calls <= N);
  test_unlock ();
  s = stats_of (client);
  CHECK_U64 (s.messages_acked_seq, N);
  CHECK_U64 (s.messages_resent, 0);
  CHECK_U64 (s.messages_sent_seq, N);

  /* Nothing waits for an acknowledgement: the drain leaves nothing unsent.  */
  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_OK (ws_context_destroy (server, 2000, NULL));
  recorder_free (&cli);
  return 0;
}
