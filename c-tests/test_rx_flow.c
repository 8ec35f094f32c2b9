/* ws_rx_flow: a paused connection delivers nothing although its data has reached the kernel,
   while another connection of the same context goes on; resuming delivers everything, in
   order.  Both for a server pausing one client and for a client pausing itself.  Pausing twice
   and resuming twice are harmless.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

#define K 50

static recorder srv, a, b;
static ws_context *server, *ca, *cb;

/* A round trip through B: once its echo is back, the server's I/O thread has been through
   its poll loop after everything sent before.  */
static void
sync_through_b (void)
{
  int before;

  test_lock ();
  before = b.receives;
  test_unlock ();
  CHECK_OK (ws_send (cb, 0, "sync", 4, WS_MSG_TEXT));
  WAIT_UNTIL (b.receives == before + 1);
}

/* An on_writable of A: once it has come, A's I/O thread has been through its poll loop after
   everything before (A's queue is empty, so it fires at the next turn).  */
static void
wake_a (void)
{
  int before;

  test_lock ();
  before = a.writables;
  test_unlock ();
  CHECK_OK (ws_request_writable (ca, 0));
  WAIT_UNTIL (a.writables == before + 1);
}

static void
check_seq (recorder *r, int from, const char *prefix)
{
  int i;

  for (i = 0; i < K; i++)
    {
      char buf[32];

      snprintf (buf, sizeof buf, "%s %d", prefix, i);
      if (strcmp ((char *) r->msgs[from + i].data, buf) != 0)
        FAIL ("%s message %d is \"%s\", expected \"%s\"", r->name, i,
              (char *) r->msgs[from + i].data, buf);
    }
}

int
main (void)
{
  ws_conn_id ida;
  int i, srv_before;

  recorder_init (&srv, "server");
  recorder_init (&a, "client a");
  recorder_init (&b, "client b");
  srv.keep = a.keep = 1;
  srv.echo = 1;
  server = start_server (&srv);
  ca = start_client (&a, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 1 && a.connects == 1);
  ida = srv.last_connect;
  cb = start_client (&b, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 2 && b.connects == 1);

  /* The server stops reading A (twice: idempotent).  */
  CHECK_OK (ws_rx_flow (server, ida, 0));
  CHECK_OK (ws_rx_flow (server, ida, 0));
  sync_through_b ();
  test_lock ();
  srv_before = srv.receives;
  test_unlock ();

  for (i = 0; i < K; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "a %d", i);

      CHECK_OK (ws_send (ca, 0, buf, (size_t) len, WS_MSG_TEXT));
    }
  /* A's messages are in the kernel; B still gets answers; nothing of A was delivered.  */
  CHECK_OK (ws_flush (ca, 5000));
  sync_through_b ();
  sync_through_b ();
  test_lock ();
  for (i = srv_before; i < srv.receives; i++)
    if (srv.msgs[i].conn == ida)
      FAIL ("the server delivered a message of paused connection A");
  test_unlock ();
  CHECK_INT (a.receives, 0);

  CHECK_OK (ws_rx_flow (server, ida, 1));
  CHECK_OK (ws_rx_flow (server, ida, 1));
  WAIT_UNTIL (a.receives == K);      /* every one delivered and echoed */
  check_seq (&a, 0, "a");

  /* The client pauses itself; the server's sends to it wait in the kernel.  */
  CHECK_OK (ws_rx_flow (ca, 0, 0));
  CHECK_OK (ws_rx_flow (ca, a.last_connect, 0));
  wake_a ();
  for (i = 0; i < K; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "s %d", i);

      CHECK_OK (ws_send (server, ida, buf, (size_t) len, WS_MSG_TEXT));
    }
  CHECK_OK (ws_flush (server, 5000));
  /* The data is in A's socket buffer; A's I/O thread goes through its loop (twice) and must
     not deliver it.  */
  wake_a ();
  wake_a ();
  CHECK_INT (a.receives, K);
  CHECK_OK (ws_rx_flow (ca, 0, 1));
  WAIT_UNTIL (a.receives == 2 * K);
  check_seq (&a, K, "s");

  CHECK_U64 (destroy_or_die (ca, 2000), 0);
  CHECK_U64 (destroy_or_die (cb, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.errors + a.errors + b.errors, 0);
  CHECK_INT (srv.bad_id + a.bad_id + b.bad_id, 0);
  recorder_free (&srv);
  recorder_free (&a);
  recorder_free (&b);
  return 0;
}
