/* 100 clients at once on one server: each connects, sends its own number; the server sees 100
   distinct connection ids and answers each on its own connection; every client gets exactly
   its own answer.  Then all leave and the server sees 100 closes.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CLIENTS 100

int
main (void)
{
  static recorder cli[N_CLIENTS];
  static ws_context *clients[N_CLIENTS];
  static ws_conn_id conn_of[N_CLIENTS];   /* server-side id of client i */
  recorder srv;
  ws_context *server;
  uint16_t port;
  ws_stats st;
  int i, j;

  recorder_init (&srv, "server");
  srv.keep = 1;
  server = start_server (&srv);
  port = ws_local_port (server);
  for (i = 0; i < N_CLIENTS; i++)
    {
      recorder_init (&cli[i], "client");
      cli[i].keep = 1;
      clients[i] = start_client (&cli[i], port);
    }
  WAIT_UNTIL (srv.connects == N_CLIENTS);
  for (i = 0; i < N_CLIENTS; i++)
    WAIT_UNTIL (cli[i].connects == 1);
  st = stats_of (server);
  CHECK_U64 (st.connections_current, N_CLIENTS);
  CHECK_U64 (st.connections_total, N_CLIENTS);

  for (i = 0; i < N_CLIENTS; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "client %d", i);

      CHECK_OK (ws_send (clients[i], 0, buf, (size_t) len, WS_MSG_TEXT));
    }
  WAIT_UNTIL (srv.receives == N_CLIENTS);

  /* Map every message to its sender's id: 100 different ids, each client exactly once.  */
  for (i = 0; i < N_CLIENTS; i++)
    conn_of[i] = 0;
  for (j = 0; j < N_CLIENTS; j++)
    {
      int k;

      CHECK (sscanf ((char *) srv.msgs[j].data, "client %d", &k) == 1);
      CHECK (k >= 0 && k < N_CLIENTS);
      if (conn_of[k] != 0)
        FAIL ("client %d was received twice", k);
      conn_of[k] = srv.msgs[j].conn;
    }
  for (i = 0; i < N_CLIENTS; i++)
    for (j = i + 1; j < N_CLIENTS; j++)
      if (conn_of[i] == conn_of[j])
        FAIL ("clients %d and %d share connection id %llu", i, j,
              (unsigned long long) conn_of[i]);

  /* Each gets its own answer on its own connection.  */
  for (i = 0; i < N_CLIENTS; i++)
    {
      char buf[32];
      int len = snprintf (buf, sizeof buf, "answer %d", i);

      CHECK_OK (ws_send (server, conn_of[i], buf, (size_t) len, WS_MSG_TEXT));
    }
  for (i = 0; i < N_CLIENTS; i++)
    {
      char buf[32];

      WAIT_UNTIL (cli[i].receives >= 1);
      snprintf (buf, sizeof buf, "answer %d", i);
      CHECK (strcmp ((char *) cli[i].msgs[0].data, buf) == 0);
    }
  for (i = 0; i < N_CLIENTS; i++)
    CHECK_INT (cli[i].receives, 1);

  CHECK_OK (ws_flush (server, 5000));    /* sent counters final */
  for (i = 0; i < N_CLIENTS; i++)
    CHECK_U64 (destroy_or_die (clients[i], 2000), 0);
  WAIT_UNTIL (srv.closes == N_CLIENTS);
  st = stats_of (server);
  CHECK_U64 (st.connections_current, 0);
  CHECK_U64 (st.messages_received, N_CLIENTS);
  CHECK_U64 (st.messages_sent, N_CLIENTS);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.bad_id, 0);
  CHECK_INT (srv.errors, 0);
  for (i = 0; i < N_CLIENTS; i++)
    {
      CHECK_INT (cli[i].bad_id, 0);
      CHECK_INT (cli[i].errors, 0);
      recorder_free (&cli[i]);
    }
  recorder_free (&srv);
  return 0;
}
