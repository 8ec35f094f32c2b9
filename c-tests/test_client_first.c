/* A client started before its server: it reports each failed attempt through on_error
   (WS_ERR_IO), keeps what is sent meanwhile, and once a server appears on that port it
   connects and delivers everything, in order, with no on_close for the attempts that never
   connected.  */

#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 100

int
main (void)
{
  recorder srv, cli;
  ws_options *o;
  ws_context *server, *client;
  uint16_t port;
  int fd, i;
  ws_stats st;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = 1;

  /* A free port, reserved (bound, not listening) until the server takes it.  */
  port = dead_port (&fd);
  client = start_client (&cli, port);
  for (i = 0; i < N; i++)
    {
      char buf[16];
      int len = snprintf (buf, sizeof buf, "early %d", i);

      CHECK_OK (ws_send (client, 0, buf, (size_t) len, WS_MSG_TEXT));
    }
  WAIT_UNTIL (cli.errors >= 3);
  CHECK_INT (cli.last_error_status, WS_ERR_IO);
  CHECK_INT (cli.last_error_conn, 0);   /* no connection is concerned */
  CHECK_INT (cli.connects + cli.closes, 0);
  st = stats_of (client);
  CHECK_U64 (st.messages_queued, N);
  CHECK_U64 (st.messages_sent, 0);
  CHECK (st.errors >= 3);

  close (fd);
  o = server_options (&srv);
  CHECK_OK (ws_options_set_port (o, port));
  server = create_or_die (o, &srv);
  WAIT_UNTIL (srv.receives == N);
  for (i = 0; i < N; i++)
    {
      char buf[16];

      snprintf (buf, sizeof buf, "early %d", i);
      CHECK (strcmp ((char *) srv.msgs[i].data, buf) == 0);
    }
  CHECK_INT (cli.connects, 1);
  CHECK_INT (cli.closes, 0);
  CHECK_U64 (destroy_or_die (client, 1000), 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  recorder_free (&srv);
  return 0;
}
