/* Keepalive: a server with ping_interval_ms 50 and pong_timeout_ms 500 pings every peer; a
   peer that completed its handshake but never answers (a raw socket) gets ping frames and is
   then closed as dead, with on_close on the server; a real client, connected earlier and
   answering pongs, stays connected throughout.  A client with pings of its own too.  */

#include "common.h"

#include <string.h>
#include <unistd.h>

int
main (void)
{
  recorder srv, good;
  ws_options *o;
  ws_context *server, *client;
  ws_conn_id good_id, raw_id;
  char buf[4096];
  int fd, eof;
  size_t n;

  recorder_init (&srv, "server");
  recorder_init (&good, "client");
  o = server_options (&srv);
  CHECK_OK (ws_options_set_ping_interval_ms (o, 50));
  /* Valgrind slows the peer's pong down too: a longer bound there.  */
  CHECK_OK (ws_options_set_pong_timeout_ms (o, 500 * test_time_factor ()));
  server = create_or_die (o, &srv);

  o = client_options (&good, ws_local_port (server));
  CHECK_OK (ws_options_set_ping_interval_ms (o, 50));
  /* Valgrind slows the peer's pong down too: a longer bound there.  */
  CHECK_OK (ws_options_set_pong_timeout_ms (o, 500 * test_time_factor ()));
  client = create_or_die (o, &good);
  WAIT_UNTIL (srv.connects == 1 && good.connects == 1);
  good_id = srv.last_connect;

  fd = raw_connect (ws_local_port (server));
  CHECK_INT (raw_handshake (fd, "/"), 101);
  WAIT_UNTIL (srv.connects == 2);
  raw_id = srv.last_connect;

  /* A ping frame comes (FIN + opcode 9, unmasked from a server), then the end.  */
  n = raw_read_until (fd, buf, sizeof buf, "\x89", TEST_WAIT_MS, &eof);
  CHECK (n >= 2);
  CHECK (memchr (buf, 0x89, n) != NULL);
  WAIT_UNTIL (srv.closes == 1);
  CHECK_INT (srv.last_close_conn, raw_id);
  raw_read_until (fd, buf, sizeof buf, NULL, TEST_WAIT_MS, &eof);
  CHECK (eof);
  close (fd);

  /* The real client outlived it, although it was connected first: its pongs counted.  */
  CHECK_INT (good.closes, 0);
  CHECK_OK (ws_send (server, good_id, "alive", 5, WS_MSG_TEXT));
  WAIT_UNTIL (good.receives == 1);
  CHECK_INT (good.closes + good.errors, 0);
  CHECK_INT (srv.closes, 1);

  CHECK_U64 (destroy_or_die (client, 1000), 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  CHECK_INT (srv.bad_id + good.bad_id, 0);
  return 0;
}
