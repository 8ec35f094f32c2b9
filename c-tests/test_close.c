/* ws_close_connection and on_close: codes and reasons travel both ways; messages queued before
   the close are delivered before it; a client closed by its server reconnects with a new
   connection id (ids are never reused); a destroyed server closes its clients with 1001.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  ws_conn_id s1, c1, s2, c2;
  int i;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  cli.keep = 1;
  server = start_server (&srv);
  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);
  s1 = srv.last_connect;
  c1 = cli.last_connect;

  /* Server closes with an application code after five messages: the five come first.  */
  for (i = 0; i < 5; i++)
    {
      char buf[16];
      int len = snprintf (buf, sizeof buf, "last %d", i);

      CHECK_OK (ws_send (server, s1, buf, (size_t) len, WS_MSG_TEXT));
    }
  CHECK_OK (ws_close_connection (server, s1, 4000, "server says bye"));
  WAIT_UNTIL (cli.closes == 1 && srv.closes == 1);
  CHECK_INT (cli.receives, 5);
  for (i = 0; i < 5; i++)
    {
      char buf[16];

      snprintf (buf, sizeof buf, "last %d", i);
      CHECK (strcmp ((char *) cli.msgs[i].data, buf) == 0);
    }
  CHECK_INT (cli.last_close_conn, c1);
  CHECK_INT (cli.last_close_code, 4000);
  CHECK (strcmp (cli.last_close_reason, "server says bye") == 0);
  CHECK_INT (srv.last_close_conn, s1);
  CHECK_INT (srv.last_close_code, 4000);   /* the client echoes the code */
  CHECK_STATUS (ws_send (server, s1, "x", 1, WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);
  CHECK_STATUS (ws_close_connection (server, s1, 1000, NULL), WS_ERR_NOT_CONNECTED);

  /* The client reconnects by itself, with new ids on both sides.  */
  WAIT_UNTIL (srv.connects == 2 && cli.connects == 2);
  s2 = srv.last_connect;
  c2 = cli.last_connect;
  CHECK (s2 != s1);
  CHECK (c2 != c1);
  /* The old client id is not the current one any more.  */
  CHECK_STATUS (ws_send (client, c1, "x", 1, WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);
  CHECK_OK (ws_send (client, c2, "x", 1, WS_MSG_TEXT));

  /* Client-initiated close, NULL reason: the server sees 1000 and an empty reason.  */
  CHECK_OK (ws_close_connection (client, 0, 1000, NULL));
  WAIT_UNTIL (srv.closes == 2 && cli.closes == 2);
  CHECK_INT (srv.last_close_conn, s2);
  CHECK_INT (srv.last_close_code, 1000);
  CHECK (strcmp (srv.last_close_reason, "") == 0);
  CHECK_INT (srv.receives, 1);  /* the "x" sent before the close arrived first */
  CHECK_INT (cli.last_close_code, 1000);

  /* Reconnects again; then the server is destroyed: the client sees 1001 (going away).  */
  WAIT_UNTIL (srv.connects == 3 && cli.connects == 3);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.closes, 3);    /* destroy delivered on_close for its open connection */
  CHECK_INT (srv.last_close_code, 1001);
  WAIT_UNTIL (cli.closes == 3);
  CHECK_INT (cli.last_close_code, 1001);

  CHECK_U64 (destroy_or_die (client, 0), 0);
  CHECK_INT (cli.closes, 3);    /* no connection open at destroy: no extra on_close */
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  CHECK_INT (srv.errors, 0);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
