/* on_sent and ws_send_seq through the C API: argument checks (NULL pointers, server contexts),
   the numbers a client gives (1, 2, ... in acceptance order, ws_send counted too), on_sent
   reaching the last number once the server has everything, with its context and user
   pointers, growing strictly, and refusing ws_context_destroy inside it; and
   ws_stats.messages_sent_seq.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

typedef struct sent_log
{
  ws_context *ctx;              /* the context the callback must name */
  uint64_t last;                /* the latest upto_seq */
  int calls;
  int went_back;                /* a report not above the one before */
  int bad_ctx;
  ws_status destroy_inside;     /* ws_context_destroy called from inside the callback */
} sent_log;

static sent_log sent;

static void
on_sent (ws_context *ctx, ws_conn_id conn, uint64_t upto_seq, void *user)
{
  sent_log *l = user;
  ws_status st = WS_OK;

  (void) conn;
  if (l->calls == 0)
    st = ws_context_destroy (ctx, 0, NULL);
  test_lock ();
  if (l->calls == 0)
    l->destroy_inside = st;
  if (ctx != l->ctx && l->ctx != NULL)
    l->bad_ctx = 1;
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
  recorder srv, cli;
  ws_context *server, *client;
  ws_options *o;
  uint64_t seq;
  ws_stats s;
  char buf[32];
  int i;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");

  /* Argument checks of the option.  */
  CHECK_STATUS (ws_options_set_on_sent (NULL, on_sent, NULL), WS_ERR_INVALID_ARGUMENT);
  o = server_options (&srv);
  CHECK_STATUS (ws_options_set_on_sent (o, on_sent, &sent), WS_ERR_INVALID_ARGUMENT);
  server = create_or_die (o, &srv);

  /* ws_send_seq: NULL pointers, a server, a bad type; seq_out is 0 after a failure.  */
  seq = 77;
  CHECK_STATUS (ws_send_seq (NULL, 0, "x", 1, WS_MSG_TEXT, &seq), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (seq, 0);
  CHECK_STATUS (ws_send_seq (server, 0, "x", 1, WS_MSG_TEXT, NULL), WS_ERR_INVALID_ARGUMENT);
  seq = 77;
  CHECK_STATUS (ws_send_seq (server, 1, "x", 1, WS_MSG_TEXT, &seq), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (seq, 0);

  o = client_options (&cli, ws_local_port (server));
  CHECK_OK (ws_options_set_on_sent (o, NULL, NULL));   /* NULL removes: allowed */
  CHECK_OK (ws_options_set_on_sent (o, on_sent, &sent));
  client = create_or_die (o, &cli);
  test_lock ();
  sent.ctx = client;
  test_unlock ();
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);

  CHECK_STATUS (ws_send_seq (client, 0, "x", 1, (ws_msg_type) 9, &seq), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (seq, 0);
  CHECK_STATUS (ws_send_seq (client, 0, "x", 1, WS_MSG_TEXT, NULL), WS_ERR_INVALID_ARGUMENT);

  /* 1..20 from ws_send_seq, 21 from ws_send, 22 from ws_send_seq again.  */
  for (i = 0; i < 20; i++)
    {
      int len = snprintf (buf, sizeof buf, "%d", i);

      CHECK_OK (ws_send_seq (client, 0, buf, (size_t) len, WS_MSG_TEXT, &seq));
      CHECK_U64 (seq, (uint64_t) i + 1);
    }
  CHECK_OK (ws_send (client, 0, "20", 2, WS_MSG_TEXT));
  CHECK_OK (ws_send_seq (client, 0, "21", 2, WS_MSG_TEXT, &seq));
  CHECK_U64 (seq, 22);

  WAIT_UNTIL (srv.receives == 22 && sent.last == 22);
  test_lock ();
  CHECK (!sent.went_back);
  CHECK (!sent.bad_ctx);
  CHECK (sent.calls >= 1 && sent.calls <= 22);
  CHECK_STATUS (sent.destroy_inside, WS_ERR_INVALID_ARGUMENT);
  test_unlock ();

  s = stats_of (client);
  CHECK_U64 (s.messages_sent_seq, 22);
  CHECK_U64 (s.messages_sent, 22);
  s = stats_of (server);
  CHECK_U64 (s.messages_sent_seq, 0);

  destroy_or_die (client, 2000);
  destroy_or_die (server, 2000);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
