/* Broadcast: with 10 clients connected, 200 broadcasts (text and binary alternating) reach
   every client, all of them, in order, with their type; messages_sent counts one per
   subscriber.  A broadcast with no client is WS_OK and goes nowhere; a client's ws_broadcast
   is a send to its server.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

#define N_CLIENTS 10

int
main (void)
{
  static recorder cli[N_CLIENTS];
  static ws_context *clients[N_CLIENTS];
  recorder srv;
  ws_context *server;
  unsigned n = 200;
  unsigned i;
  int k;
  ws_stats st;

  recorder_init (&srv, "server");
  srv.keep = 1;
  server = start_server (&srv);
  /* Nobody listening yet.  */
  CHECK_OK (ws_broadcast (server, "nobody", 6, WS_MSG_TEXT));
  CHECK_U64 (stats_of (server).messages_sent, 0);
  CHECK_U64 (stats_of (server).messages_queued, 0);

  for (k = 0; k < N_CLIENTS; k++)
    {
      recorder_init (&cli[k], "client");
      cli[k].keep = 1;
      clients[k] = start_client (&cli[k], ws_local_port (server));
    }
  WAIT_UNTIL (srv.connects == N_CLIENTS);

  for (i = 0; i < n; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "broadcast %u", i);

      CHECK_OK (ws_broadcast (server, buf, (size_t) len, i % 2 ? WS_MSG_BINARY : WS_MSG_TEXT));
    }
  for (k = 0; k < N_CLIENTS; k++)
    {
      WAIT_UNTIL (cli[k].receives >= (int) n);
      for (i = 0; i < n; i++)
        {
          char buf[32];

          snprintf (buf, sizeof buf, "broadcast %u", i);
          if (strcmp ((char *) cli[k].msgs[i].data, buf) != 0)
            FAIL ("client %d, message %u: got \"%s\", expected \"%s\"", k, i,
                  (char *) cli[k].msgs[i].data, buf);
          CHECK_INT (cli[k].msgs[i].type, i % 2 ? WS_MSG_BINARY : WS_MSG_TEXT);
        }
    }
  CHECK_OK (ws_flush (server, 5000));
  st = stats_of (server);
  CHECK_U64 (st.messages_sent, (uint64_t) n * N_CLIENTS);
  CHECK_U64 (st.messages_dropped, 0);
  CHECK_U64 (st.messages_queued, 0);

  /* The client side of ws_broadcast: the same as ws_send (c, 0, ...).  */
  CHECK_OK (ws_broadcast (clients[3], "from 3", 6, WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == 1);
  CHECK (strcmp ((char *) srv.msgs[0].data, "from 3") == 0);

  for (k = 0; k < N_CLIENTS; k++)
    {
      CHECK_U64 (destroy_or_die (clients[k], 2000), 0);
      CHECK_INT (cli[k].receives, (int) n);     /* nothing extra, nothing duplicated */
      CHECK_INT (cli[k].errors + cli[k].bad_id, 0);
      recorder_free (&cli[k]);
    }
  WAIT_UNTIL (srv.closes == N_CLIENTS);
  /* Again nobody: WS_OK.  */
  CHECK_OK (ws_broadcast (server, "nobody", 6, WS_MSG_TEXT));
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  recorder_free (&srv);
  return 0;
}
