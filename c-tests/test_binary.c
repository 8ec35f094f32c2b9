/* Binary payloads keep every byte, NULs included, and their type; text with an embedded NUL
   (valid UTF-8) keeps its full length.  Both directions.  */

#include "common.h"

#include <string.h>

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  ws_conn_id id;
  uint8_t all[256];
  static const uint8_t nuls[] = { 0, 0, 0, 0 };
  static const char nul_text[] = "before\0after";   /* 12 bytes, NUL in the middle */
  uint8_t pattern[4096];
  int i;

  for (i = 0; i < 256; i++)
    all[i] = (uint8_t) i;
  fill_pattern (pattern, sizeof pattern, 7);

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  server = start_server (&srv);
  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);
  id = srv.last_connect;

  CHECK_OK (ws_send (client, 0, all, sizeof all, WS_MSG_BINARY));
  CHECK_OK (ws_send (client, 0, nuls, sizeof nuls, WS_MSG_BINARY));
  CHECK_OK (ws_send (client, 0, nul_text, sizeof nul_text - 1, WS_MSG_TEXT));
  CHECK_OK (ws_send (client, 0, pattern, sizeof pattern, WS_MSG_BINARY));
  WAIT_UNTIL (srv.receives == 4);

  CHECK_INT (srv.msgs[0].type, WS_MSG_BINARY);
  CHECK_INT (srv.msgs[0].len, 256);
  CHECK (memcmp (srv.msgs[0].data, all, 256) == 0);
  CHECK_INT (srv.msgs[1].type, WS_MSG_BINARY);
  CHECK_INT (srv.msgs[1].len, 4);
  CHECK (memcmp (srv.msgs[1].data, nuls, 4) == 0);
  CHECK_INT (srv.msgs[2].type, WS_MSG_TEXT);
  CHECK_INT (srv.msgs[2].len, 12);
  CHECK (memcmp (srv.msgs[2].data, nul_text, 12) == 0);
  CHECK_INT (srv.msgs[3].len, sizeof pattern);
  CHECK (memcmp (srv.msgs[3].data, pattern, sizeof pattern) == 0);

  /* The same from the server (unmasked frames) to the client.  */
  CHECK_OK (ws_send (server, id, all, sizeof all, WS_MSG_BINARY));
  CHECK_OK (ws_broadcast (server, nuls, sizeof nuls, WS_MSG_BINARY));
  CHECK_OK (ws_send (server, id, nul_text, sizeof nul_text - 1, WS_MSG_TEXT));
  CHECK_OK (ws_send (server, id, pattern, sizeof pattern, WS_MSG_BINARY));
  WAIT_UNTIL (cli.receives == 4);
  CHECK_INT (cli.msgs[0].type, WS_MSG_BINARY);
  CHECK_INT (cli.msgs[0].len, 256);
  CHECK (memcmp (cli.msgs[0].data, all, 256) == 0);
  CHECK_INT (cli.msgs[1].len, 4);
  CHECK (memcmp (cli.msgs[1].data, nuls, 4) == 0);
  CHECK_INT (cli.msgs[2].type, WS_MSG_TEXT);
  CHECK_INT (cli.msgs[2].len, 12);
  CHECK (memcmp (cli.msgs[2].data, nul_text, 12) == 0);
  CHECK_INT (cli.msgs[3].len, sizeof pattern);
  CHECK (memcmp (cli.msgs[3].data, pattern, sizeof pattern) == 0);

  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.errors + cli.errors, 0);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
