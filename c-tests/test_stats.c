/* ws_get_stats: exact counters after a known exchange (connections, messages and payload bytes
   both ways, queued, dropped, rejected, errors, reconnects), and struct_size honoured: fields
   beyond it are not written.  */

#include "common.h"

#include <stddef.h>
#include <string.h>

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  ws_conn_id id;
  ws_stats s, c;
  uint8_t buf[1000];
  int i;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  server = start_server (&srv);

  /* Fresh server: all zero (struct_size is written back as the size used).  */
  s = stats_of (server);
  CHECK_INT (s.struct_size, sizeof (ws_stats));
  CHECK_U64 (s.connections_current + s.connections_total + s.reconnects, 0);
  CHECK_U64 (s.messages_sent + s.bytes_sent + s.messages_received + s.bytes_received, 0);
  CHECK_U64 (s.messages_queued + s.messages_dropped + s.send_rejected + s.errors, 0);
  CHECK_U64 (s.buffered_bytes, 0);

  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);
  id = srv.last_connect;

  /* 7 messages of 1000 bytes client->server, 3 of 10 bytes back, one empty each way.  */
  memset (buf, 'x', sizeof buf);
  for (i = 0; i < 7; i++)
    CHECK_OK (ws_send (client, 0, buf, 1000, WS_MSG_BINARY));
  CHECK_OK (ws_send (client, 0, NULL, 0, WS_MSG_TEXT));
  for (i = 0; i < 3; i++)
    CHECK_OK (ws_send (server, id, buf, 10, WS_MSG_TEXT));
  CHECK_OK (ws_send (server, id, NULL, 0, WS_MSG_BINARY));
  WAIT_UNTIL (srv.receives == 8 && cli.receives == 4);
  CHECK_OK (ws_flush (client, 5000));
  CHECK_OK (ws_flush (server, 5000));

  c = stats_of (client);
  s = stats_of (server);
  CHECK_U64 (c.connections_current, 1);
  CHECK_U64 (c.connections_total, 1);
  CHECK_U64 (c.reconnects, 0);
  CHECK_U64 (c.messages_sent, 8);
  CHECK_U64 (c.bytes_sent, 7000);
  CHECK_U64 (c.messages_received, 4);
  CHECK_U64 (c.bytes_received, 30);
  CHECK_U64 (c.messages_queued, 0);
  CHECK_U64 (c.messages_dropped, 0);
  CHECK_U64 (c.send_rejected, 0);
  CHECK_U64 (c.errors, 0);
  CHECK_U64 (s.connections_current, 1);
  CHECK_U64 (s.connections_total, 1);
  CHECK_U64 (s.reconnects, 0);
  CHECK_U64 (s.messages_sent, 4);
  CHECK_U64 (s.bytes_sent, 30);
  CHECK_U64 (s.messages_received, 8);
  CHECK_U64 (s.bytes_received, 7000);
  CHECK_U64 (s.messages_queued, 0);
  CHECK_U64 (s.errors, 0);
  /* Every message is complete: at most an idle connection's 4 KiB read buffer is held.  */
  CHECK (s.buffered_bytes <= 4096);
  CHECK (c.buffered_bytes <= 4096);

  /* struct_size covering only the fields up to messages_sent: the rest stays untouched.  */
  memset (&c, 0xAB, sizeof c);
  c.struct_size = offsetof (ws_stats, bytes_sent);
  CHECK_OK (ws_get_stats (client, &c));
  CHECK_U64 (c.messages_sent, 8);
  CHECK_U64 (c.connections_total, 1);
  CHECK_U64 (c.bytes_sent, 0xABABABABABABABABull);
  CHECK_U64 (c.errors, 0xABABABABABABABABull);
  /* A struct_size larger than the library knows (a newer header) is fine: it writes its own
     fields and reports the size it used.  */
  {
    struct
    {
      ws_stats st;
      uint64_t future[4];
    } big;

    memset (&big, 0xCD, sizeof big);
    big.st.struct_size = sizeof big;
    CHECK_OK (ws_get_stats (client, &big.st));
    CHECK_INT (big.st.struct_size, sizeof (ws_stats));
    CHECK_U64 (big.st.messages_sent, 8);
    CHECK_U64 (big.future[0], 0xCDCDCDCDCDCDCDCDull);
  }

  /* The server closes the connection: the client counts a close, reconnects (reconnects 1,
     connections_total 2) and the server sees a second connection.  */
  CHECK_OK (ws_close_connection (server, id, 1000, "again"));
  WAIT_UNTIL (cli.connects == 2 && srv.connects == 2);
  c = stats_of (client);
  s = stats_of (server);
  CHECK_U64 (c.connections_total, 2);
  CHECK_U64 (c.connections_current, 1);
  CHECK_U64 (c.reconnects, 1);
  CHECK_U64 (s.connections_total, 2);
  WAIT_UNTIL (srv.closes == 1);
  CHECK_U64 (stats_of (server).connections_current, 1);

  /* Errors: the server goes away; the client's failed attempts are on_error calls, each
     counted.  */
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  WAIT_UNTIL (cli.errors >= 2);
  c = stats_of (client);
  CHECK (c.errors >= 2);
  test_lock ();
  CHECK_U64 (c.errors <= (uint64_t) cli.errors, 1);
  test_unlock ();
  CHECK_U64 (c.connections_current, 0);
  CHECK (c.reconnects >= 3);    /* the reconnect that worked, and two failed ones */

  /* Messages queued while disconnected are counted in messages_queued; destroy reports them
     unsent and counts them dropped (checked just before, as the context is gone after).  */
  CHECK_OK (ws_send (client, 0, "a", 1, WS_MSG_TEXT));
  CHECK_OK (ws_send (client, 0, "b", 1, WS_MSG_TEXT));
  c = stats_of (client);
  CHECK_U64 (c.messages_queued, 2);
  CHECK_U64 (destroy_or_die (client, 0), 2);
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  return 0;
}
