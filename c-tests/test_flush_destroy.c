/* ws_flush and the drain of ws_context_destroy: a flush returns once everything queued reached
   the kernel (messages_queued 0), and times out with WS_ERR_TIMEOUT when it cannot; destroy
   right after a burst of sends, without a flush, still delivers every message (drain), and
   reports 0 unsent.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

static int
seq_ok (recorder *r, int from, int n)
{
  int i;

  for (i = 0; i < n; i++)
    {
      char buf[32];

      snprintf (buf, sizeof buf, "%d", i);
      if (strcmp ((char *) r->msgs[from + i].data, buf) != 0)
        return 0;
    }
  return 1;
}

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  int n = (int) test_scaled (20000, 500);
  int i;
  uint64_t t0;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = 1;
  server = start_server (&srv);
  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);

  /* Nothing queued: immediate success.  */
  CHECK_OK (ws_flush (client, 0));
  CHECK_OK (ws_flush (server, 1000));

  for (i = 0; i < n; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "%d", i);

      CHECK_OK (ws_send (client, 0, buf, (size_t) len, WS_MSG_TEXT));
    }
  CHECK_OK (ws_flush (client, 10000 * test_time_factor ()));
  CHECK_U64 (stats_of (client).messages_queued, 0);
  CHECK_U64 (stats_of (client).messages_sent, (uint64_t) n);
  WAIT_UNTIL (srv.receives == n);
  CHECK (seq_ok (&srv, 0, n));

  /* A burst then destroy at once: the drain writes it all, the server gets everything.  */
  for (i = 0; i < n; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "%d", i);

      CHECK_OK (ws_send (client, 0, buf, (size_t) len, WS_MSG_TEXT));
    }
  CHECK_U64 (destroy_or_die (client, 10000 * test_time_factor ()), 0);
  WAIT_UNTIL (srv.receives == 2 * n && srv.closes == 1);
  CHECK (seq_ok (&srv, n, n));
  CHECK_INT (srv.last_close_code, 1001);

  /* No peer: a flush cannot complete and answers WS_ERR_TIMEOUT after about its timeout.  */
  recorder_free (&cli);
  recorder_init (&cli, "client 2");
  client = start_client (&cli, ws_local_port (server));
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  CHECK_OK (ws_send (client, 0, "stuck", 5, WS_MSG_TEXT));
  t0 = test_now_ms ();
  CHECK_STATUS (ws_flush (client, 200), WS_ERR_TIMEOUT);
  CHECK (test_now_ms () - t0 >= 190);
  CHECK (ws_last_error ()[0] != '\0');
  CHECK_U64 (destroy_or_die (client, 100), 1);
  CHECK_INT (srv.bad_id, 0);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
