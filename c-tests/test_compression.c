/* ws_options_set_compression: permessage-deflate between our client and our server, both
   directions and a broadcast, with ws_stats.connections_compressed; the level's range; a
   compressing client against a server with compression off stays plain.  */

#include "common.h"

#include <stdio.h>
#include <string.h>

#define LINES 200

static void
line (char *buf, size_t cap, int i)
{
  snprintf (buf, cap, "<13>Dec  1 15:%02d:%02d host%d app[%d]: user %d logged in, session %x",
            i % 60, (i * 7) % 60, i % 5, 1000 + i % 17, i % 23, (unsigned) i * 7919u);
}

int
main (void)
{
  recorder srv, cli, srv2, cli2;
  ws_context *server, *client;
  ws_options *o;
  ws_conn_id id;
  char buf[256];
  int i;

  /* The level's range, and NULL.  */
  o = ws_options_new (WS_MODE_CLIENT);
  CHECK (o != NULL);
  CHECK_STATUS (ws_options_set_compression (o, -1), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_compression (o, 10), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_options_set_compression (o, 0));
  CHECK_OK (ws_options_set_compression (o, 9));
  ws_options_free (o);
  CHECK_STATUS (ws_options_set_compression (NULL, 1), WS_ERR_INVALID_ARGUMENT);

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  o = server_options (&srv);
  CHECK_OK (ws_options_set_compression (o, 1));
  server = create_or_die (o, &srv);
  o = client_options (&cli, ws_local_port (server));
  CHECK_OK (ws_options_set_compression (o, 6));
  client = create_or_die (o, &cli);
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);
  id = srv.last_connect;
  CHECK_U64 (stats_of (server).connections_compressed, 1);
  CHECK_U64 (stats_of (client).connections_compressed, 1);

  for (i = 0; i < LINES; i++)
    {
      line (buf, sizeof buf, i);
      CHECK_OK (ws_send (client, 0, buf, strlen (buf), WS_MSG_TEXT));
      CHECK_OK (ws_send (server, id, buf, strlen (buf), WS_MSG_TEXT));
    }
  CHECK_OK (ws_broadcast (server, "broadcast", 9, WS_MSG_BINARY));
  WAIT_UNTIL (srv.receives == LINES && cli.receives == LINES + 1);
  for (i = 0; i < LINES; i++)
    {
      line (buf, sizeof buf, i);
      CHECK_INT (srv.msgs[i].len, strlen (buf));
      CHECK (memcmp (srv.msgs[i].data, buf, strlen (buf)) == 0);
      CHECK_INT (cli.msgs[i].len, strlen (buf));
      CHECK (memcmp (cli.msgs[i].data, buf, strlen (buf)) == 0);
    }
  CHECK_INT (cli.msgs[LINES].type, WS_MSG_BINARY);
  CHECK_INT (cli.msgs[LINES].len, 9);
  CHECK (memcmp (cli.msgs[LINES].data, "broadcast", 9) == 0);

  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.errors + cli.errors, 0);
  recorder_free (&srv);
  recorder_free (&cli);

  /* A server with compression off (the default): the client's offer is not taken.  */
  recorder_init (&srv2, "server2");
  recorder_init (&cli2, "client2");
  server = start_server (&srv2);
  o = client_options (&cli2, ws_local_port (server));
  CHECK_OK (ws_options_set_compression (o, 1));
  client = create_or_die (o, &cli2);
  WAIT_UNTIL (srv2.connects == 1 && cli2.connects == 1);
  CHECK_OK (ws_send (client, 0, "plain", 5, WS_MSG_TEXT));
  WAIT_UNTIL (srv2.receives == 1);
  CHECK_U64 (stats_of (server).connections_compressed, 0);
  CHECK_U64 (stats_of (client).connections_compressed, 0);
  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv2.errors + cli2.errors, 0);
  recorder_free (&srv2);
  recorder_free (&cli2);
  return 0;
}
