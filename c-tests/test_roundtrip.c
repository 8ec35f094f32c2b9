/* Client-server round trip in one process: connect callbacks on both sides, a text and a
   binary message echoed by the server from inside on_receive, ws_send with conn 0 and with the
   client's explicit id, a server-initiated send, and the close callbacks at destroy.  */

#include "common.h"

#include <string.h>

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  uint16_t port;
  ws_conn_id cli_id, srv_id;
  static const char hello[] = "hello, server";
  static const uint8_t bin[] = { 0x00, 0x01, 0xff, 0x00, 0x7f };
  static const char push[] = "pushed by the server";

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  srv.echo = 1;

  server = start_server (&srv);
  port = ws_local_port (server);
  client = start_client (&cli, port);
  /* A client reports the port it was given.  */
  CHECK_INT (ws_local_port (client), port);

  WAIT_UNTIL (cli.connects == 1 && srv.connects == 1);
  cli_id = cli.last_connect;
  srv_id = srv.last_connect;
  CHECK (cli_id != 0);
  CHECK (srv_id != 0);

  /* conn 0: "the client's connection, whichever it is now".  */
  CHECK_OK (ws_send (client, 0, hello, strlen (hello), WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 1);
  CHECK_INT (srv.receives, 1);
  CHECK_INT (srv.msgs[0].conn, srv_id);
  CHECK_INT (srv.msgs[0].type, WS_MSG_TEXT);
  CHECK_INT (srv.msgs[0].len, strlen (hello));
  CHECK (memcmp (srv.msgs[0].data, hello, strlen (hello)) == 0);
  CHECK_STATUS (srv.last_echo_status, WS_OK);
  CHECK_INT (cli.msgs[0].conn, cli_id);
  CHECK_INT (cli.msgs[0].type, WS_MSG_TEXT);
  CHECK_INT (cli.msgs[0].len, strlen (hello));
  CHECK (memcmp (cli.msgs[0].data, hello, strlen (hello)) == 0);

  /* The client's explicit current id works like 0.  */
  CHECK_OK (ws_send (client, cli_id, bin, sizeof bin, WS_MSG_BINARY));
  WAIT_UNTIL (cli.receives == 2);
  CHECK_INT (srv.msgs[1].type, WS_MSG_BINARY);
  CHECK_INT (srv.msgs[1].len, sizeof bin);
  CHECK (memcmp (srv.msgs[1].data, bin, sizeof bin) == 0);
  CHECK_INT (cli.msgs[1].type, WS_MSG_BINARY);
  CHECK_INT (cli.msgs[1].len, sizeof bin);
  CHECK (memcmp (cli.msgs[1].data, bin, sizeof bin) == 0);

  /* The server sends on its own to the connection it named.  */
  CHECK_OK (ws_send (server, srv_id, push, strlen (push), WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 3);
  CHECK_INT (cli.msgs[2].len, strlen (push));
  CHECK (memcmp (cli.msgs[2].data, push, strlen (push)) == 0);
  CHECK_INT (srv.receives, 2);

  CHECK_INT (cli.errors, 0);
  CHECK_INT (srv.errors, 0);

  /* Destroying the client closes its connection with 1001 (going away): both sides see it.  */
  CHECK_U64 (destroy_or_die (client, 5000), 0);
  CHECK_INT (cli.closes, 1);
  CHECK_INT (cli.last_close_conn, cli_id);
  WAIT_UNTIL (srv.closes == 1);
  CHECK_INT (srv.last_close_conn, srv_id);
  CHECK_INT (srv.last_close_code, 1001);
  /* The closed id is gone: the server answers NOT_CONNECTED for it.  */
  CHECK_STATUS (ws_send (server, srv_id, push, strlen (push), WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);

  CHECK_U64 (destroy_or_die (server, 5000), 0);
  CHECK_INT (srv.bad_context + cli.bad_context, 0);
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  CHECK_INT (srv.connects, 1);
  CHECK_INT (cli.connects, 1);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
