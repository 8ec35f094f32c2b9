/* Text messages must be UTF-8: ws_send and ws_broadcast refuse invalid text with
   WS_ERR_INVALID_ARGUMENT and queue nothing; the same bytes go through as binary; valid
   multi-byte text (up to 4-byte sequences) goes through unchanged.  */

#include "common.h"

#include <string.h>

static const char *const bad[] = {
  "\xff",                       /* never valid */
  "abc\x80",                    /* lone continuation byte */
  "\xc0\xaf",                   /* overlong '/' */
  "\xe2\x82",                   /* truncated 3-byte sequence */
  "\xed\xa0\x80",               /* UTF-16 surrogate */
  "\xf4\x90\x80\x80",           /* above U+10FFFF */
  "ok then \xfe",
};
#define N_BAD (sizeof bad / sizeof bad[0])

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  ws_conn_id id;
  static const char good[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";  /* é € 😀 */
  ws_stats st;
  size_t i;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  server = start_server (&srv);
  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 1 && cli.connects == 1);
  id = srv.last_connect;

  for (i = 0; i < N_BAD; i++)
    {
      CHECK_STATUS (ws_send (client, 0, bad[i], strlen (bad[i]), WS_MSG_TEXT),
                    WS_ERR_INVALID_ARGUMENT);
      CHECK (ws_last_error ()[0] != '\0');
      CHECK_STATUS (ws_send (server, id, bad[i], strlen (bad[i]), WS_MSG_TEXT),
                    WS_ERR_INVALID_ARGUMENT);
      CHECK_STATUS (ws_broadcast (server, bad[i], strlen (bad[i]), WS_MSG_TEXT),
                    WS_ERR_INVALID_ARGUMENT);
      CHECK_STATUS (ws_broadcast (client, bad[i], strlen (bad[i]), WS_MSG_TEXT),
                    WS_ERR_INVALID_ARGUMENT);
    }
  st = stats_of (client);
  CHECK_U64 (st.messages_queued, 0);
  CHECK_U64 (st.send_rejected, 0);

  /* Each refused text, sent as binary, arrives byte for byte, in order; then valid text.  */
  for (i = 0; i < N_BAD; i++)
    CHECK_OK (ws_send (client, 0, bad[i], strlen (bad[i]), WS_MSG_BINARY));
  CHECK_OK (ws_send (client, 0, good, strlen (good), WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == (int) N_BAD + 1);
  for (i = 0; i < N_BAD; i++)
    {
      CHECK_INT (srv.msgs[i].type, WS_MSG_BINARY);
      CHECK_INT (srv.msgs[i].len, strlen (bad[i]));
      CHECK (memcmp (srv.msgs[i].data, bad[i], strlen (bad[i])) == 0);
    }
  CHECK_INT (srv.msgs[N_BAD].type, WS_MSG_TEXT);
  CHECK_INT (srv.msgs[N_BAD].len, strlen (good));
  CHECK (strcmp ((char *) srv.msgs[N_BAD].data, good) == 0);

  CHECK_OK (ws_send (server, id, good, strlen (good), WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 1);
  CHECK_INT (cli.msgs[0].type, WS_MSG_TEXT);
  CHECK (strcmp ((char *) cli.msgs[0].data, good) == 0);

  /* Nothing of the refused sends reached the client (flushed: sent counters final).  */
  CHECK_OK (ws_flush (server, 5000));
  st = stats_of (server);
  CHECK_U64 (st.messages_sent, 1);

  CHECK_U64 (destroy_or_die (client, 2000), 0);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.errors + cli.errors, 0);
  CHECK_INT (srv.closes, 1);    /* only the close at destroy: no protocol error happened */
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
