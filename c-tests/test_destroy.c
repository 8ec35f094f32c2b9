/* ws_context_destroy: refused (WS_ERR_INVALID_ARGUMENT) from inside any callback, for this
   context or another one, and in a manually dispatched callback; calls made on a context that
   is being destroyed answer WS_ERR_CLOSED; unsent_out reports what was left; a second destroy
   of the same pointer is refused without harm.  */

#include "common.h"

#include <poll.h>
#include <string.h>

static ws_context *other;       /* a context to try destroying from a callback */

static struct
{
  int connect_calls;
  ws_status destroy_self, destroy_other, flush_in_cb;
  int close_calls;
  ws_status send_in_close, broadcast_in_close, writable_in_close;
} g;

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  ws_status a = ws_context_destroy (ctx, 0, NULL);
  ws_status b = ws_context_destroy (other, 0, NULL);
  /* Nothing queued: flush inside a callback answers WS_OK at once.  */
  ws_status f = ws_flush (ctx, 1000);

  (void) conn;
  (void) user;
  test_lock ();
  g.connect_calls++;
  g.destroy_self = a;
  g.destroy_other = b;
  g.flush_in_cb = f;
  test_signal ();
  test_unlock ();
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  ws_status s, b, w;

  (void) code;
  (void) reason;
  (void) user;
  /* Runs during the server's destroy: the context no longer takes anything.  */
  s = ws_send (ctx, conn, "late", 4, WS_MSG_TEXT);
  b = ws_broadcast (ctx, "late", 4, WS_MSG_TEXT);
  w = ws_request_writable (ctx, conn);
  test_lock ();
  g.close_calls++;
  g.send_in_close = s;
  g.broadcast_in_close = b;
  g.writable_in_close = w;
  test_signal ();
  test_unlock ();
}

static const ws_callbacks srv_cbs = { .on_connect = on_connect, .on_close = on_close };

static ws_status manual_destroy = WS_OK;
static int manual_calls;

static void
manual_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  (void) conn;
  (void) user;
  manual_calls++;
  manual_destroy = ws_context_destroy (ctx, 0, NULL);
}

int
main (void)
{
  recorder cli, cli2;
  ws_options *o;
  ws_context *server, *client, *lonely, *manual, *client2;
  uint64_t unsent = 99;
  int i;

  recorder_init (&cli, "client");
  /* A context that nobody connects to, to be targeted from a callback.  */
  other = create_or_die (server_options (NULL), NULL);

  o = server_options (NULL);
  CHECK_OK (ws_options_set_callbacks (o, &srv_cbs, NULL));
  server = create_or_die (o, NULL);
  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (g.connect_calls == 1 && cli.connects == 1);
  CHECK_STATUS (g.destroy_self, WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (g.destroy_other, WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (g.flush_in_cb, WS_OK);
  /* Both survived the refused calls.  */
  CHECK_OK (ws_send (client, 0, "alive", 5, WS_MSG_TEXT));
  CHECK_OK (ws_flush (client, 5000));
  CHECK_OK (ws_broadcast (server, "alive", 5, WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 1);

  /* Destroying the server runs on_close for the client's connection inside destroy.  */
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (g.close_calls, 1);
  CHECK_STATUS (g.send_in_close, WS_ERR_CLOSED);
  CHECK_STATUS (g.broadcast_in_close, WS_ERR_CLOSED);
  CHECK_STATUS (g.writable_in_close, WS_ERR_CLOSED);

  /* Double destroy: refused, unsent_out untouched, nothing freed twice (valgrind).  */
  CHECK_STATUS (ws_context_destroy (server, 0, &unsent), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (unsent, 99);
  CHECK_STATUS (ws_context_destroy (server, 0, NULL), WS_ERR_INVALID_ARGUMENT);

  /* A client with no server: what is queued is reported unsent after the drain timeout.  */
  WAIT_UNTIL (cli.closes == 1);
  for (i = 0; i < 3; i++)
    CHECK_OK (ws_send (client, 0, "pending", 7, WS_MSG_TEXT));
  CHECK_U64 (destroy_or_die (client, 50), 3);
  CHECK_STATUS (ws_context_destroy (client, 0, NULL), WS_ERR_INVALID_ARGUMENT);

  /* unsent_out may be NULL.  */
  lonely = create_or_die (server_options (NULL), NULL);
  CHECK_OK (ws_context_destroy (lonely, 0, NULL));
  CHECK_STATUS (ws_context_destroy (lonely, 0, NULL), WS_ERR_INVALID_ARGUMENT);

  /* The same refusal inside a manually dispatched callback (on the application's thread).  */
  o = server_options (NULL);
  {
    ws_callbacks cbs;

    memset (&cbs, 0, sizeof cbs);
    cbs.on_connect = manual_connect;
    CHECK_OK (ws_options_set_callbacks (o, &cbs, NULL));
  }
  CHECK_OK (ws_options_set_dispatch (o, WS_DISPATCH_MANUAL));
  manual = create_or_die (o, NULL);
  recorder_init (&cli2, "client 2");
  client2 = start_client (&cli2, ws_local_port (manual));
  while (manual_calls == 0)
    {
      struct pollfd p = { .fd = ws_event_fd (manual), .events = POLLIN };

      if (poll (&p, 1, TEST_WAIT_MS * (int) test_time_factor ()) != 1)
        FAIL ("the manual server's event fd never became readable");
      CHECK_OK (ws_dispatch (manual, 0));
    }
  CHECK_STATUS (manual_destroy, WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (destroy_or_die (client2, 1000), 0);
  CHECK_U64 (destroy_or_die (manual, 1000), 0);

  CHECK_U64 (destroy_or_die (other, 1000), 0);
  CHECK_INT (cli.bad_id + cli2.bad_id, 0);
  recorder_free (&cli);
  recorder_free (&cli2);
  return 0;
}
