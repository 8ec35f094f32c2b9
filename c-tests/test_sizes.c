/* Message sizes: empty text and binary messages arrive as empty messages of their type; 1 MiB
   arrives intact both ways; max_message_size + 1 is refused by ws_send with WS_ERR_TOO_LARGE
   and nothing is queued; the default limit is 16 MiB; a peer that sends more than the
   receiver's limit is closed with 1009 and the message is never delivered.  */

#include "common.h"

#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

int
main (void)
{
  recorder srv, cli, big;
  ws_options *o;
  ws_context *server, *client, *bigc;
  ws_conn_id id;
  uint8_t *buf = malloc (16 * MIB + 1);
  uint8_t *expect = malloc (MIB);
  ws_stats st;

  CHECK (buf != NULL && expect != NULL);
  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  recorder_init (&big, "big client");
  srv.keep = cli.keep = 1;

  o = server_options (&srv);
  CHECK_OK (ws_options_set_max_message_size (o, MIB));
  server = create_or_die (o, &srv);
  o = client_options (&cli, ws_local_port (server));
  CHECK_OK (ws_options_set_max_message_size (o, MIB));
  client = create_or_die (o, &cli);
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);
  id = srv.last_connect;

  /* Empty messages, with a NULL and a non-NULL pointer.  */
  CHECK_OK (ws_send (client, 0, NULL, 0, WS_MSG_TEXT));
  CHECK_OK (ws_send (client, 0, "", 0, WS_MSG_BINARY));
  WAIT_UNTIL (srv.receives == 2);
  CHECK_INT (srv.msgs[0].len, 0);
  CHECK_INT (srv.msgs[0].type, WS_MSG_TEXT);
  CHECK_INT (srv.msgs[1].len, 0);
  CHECK_INT (srv.msgs[1].type, WS_MSG_BINARY);
  CHECK_OK (ws_send (server, id, "", 0, WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 1);
  CHECK_INT (cli.msgs[0].len, 0);
  CHECK_INT (cli.msgs[0].type, WS_MSG_TEXT);

  /* Exactly the limit (1 MiB) goes through both ways, byte for byte.  */
  fill_pattern (expect, MIB, 1);
  memcpy (buf, expect, MIB);
  CHECK_OK (ws_send (client, 0, buf, MIB, WS_MSG_BINARY));
  /* The library copied it: scribbling over our buffer must not change what is sent.  */
  memset (buf, 0, MIB);
  WAIT_UNTIL (srv.receives == 3);
  CHECK_INT (srv.msgs[2].len, MIB);
  CHECK_INT (srv.msgs[2].type, WS_MSG_BINARY);
  CHECK (memcmp (srv.msgs[2].data, expect, MIB) == 0);
  CHECK_OK (ws_send (server, id, expect, MIB, WS_MSG_BINARY));
  WAIT_UNTIL (cli.receives == 2);
  CHECK_INT (cli.msgs[1].len, MIB);
  CHECK (memcmp (cli.msgs[1].data, expect, MIB) == 0);

  /* One byte more is refused at once by both sides, and nothing is queued.  */
  CHECK_STATUS (ws_send (client, 0, buf, MIB + 1, WS_MSG_BINARY), WS_ERR_TOO_LARGE);
  CHECK (ws_last_error ()[0] != '\0');
  CHECK_STATUS (ws_send (server, id, buf, MIB + 1, WS_MSG_BINARY), WS_ERR_TOO_LARGE);
  CHECK_STATUS (ws_broadcast (server, buf, MIB + 1, WS_MSG_BINARY), WS_ERR_TOO_LARGE);
  memset (buf, 'a', MIB + 1);
  CHECK_STATUS (ws_send (client, 0, buf, MIB + 1, WS_MSG_TEXT), WS_ERR_TOO_LARGE);
  /* Counters of written messages are final once a flush says so (the peer may read a message
     before its sender has counted it).  */
  CHECK_OK (ws_flush (client, 5000));
  st = stats_of (client);
  CHECK_U64 (st.messages_sent, 3);
  /* Prove nothing of the refused messages travels: the next message is the next one seen.  */
  CHECK_OK (ws_send (client, 0, "after", 5, WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == 4);
  CHECK_INT (srv.msgs[3].len, 5);
  CHECK (memcmp (srv.msgs[3].data, "after", 5) == 0);
  CHECK_OK (ws_flush (client, 5000));
  st = stats_of (client);
  CHECK_U64 (st.messages_sent, 4);
  CHECK_U64 (st.messages_queued, 0);
  CHECK_U64 (st.send_rejected, 0);  /* TOO_LARGE is not backpressure */

  /* The default limit is 16 MiB.  */
  bigc = start_client (&big, ws_local_port (server));
  CHECK_STATUS (ws_send (bigc, 0, buf, 16 * MIB + 1, WS_MSG_BINARY), WS_ERR_TOO_LARGE);
  WAIT_UNTIL (big.connects == 1 && srv.connects == 2);

  /* A peer sending above the receiver's limit (this client allows 16 MiB, the server 1 MiB)
     is closed with 1009 "message too big"; the server never delivers the message.  */
  CHECK_OK (ws_send (bigc, 0, buf, MIB + 1, WS_MSG_BINARY));
  WAIT_UNTIL (big.closes >= 1);
  CHECK_INT (big.last_close_code, 1009);
  WAIT_UNTIL (srv.closes == 1);
  CHECK_INT (srv.receives, 4);
  /* The other client is unaffected.  */
  CHECK_OK (ws_send (client, 0, "still here", 10, WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == 5);
  CHECK_INT (srv.msgs[4].conn, id);

  /* The big client may be reconnecting (a client retries forever): not asserted here.  */
  destroy_or_die (bigc, 1000);
  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.bad_id + cli.bad_id + big.bad_id, 0);
  CHECK_INT (cli.errors, 0);
  recorder_free (&srv);
  recorder_free (&cli);
  recorder_free (&big);
  free (buf);
  free (expect);
  return 0;
}
