/* The 2016 functions against peers built with the callback API (ws_api.h), which can see what
   the 2016 API cannot: a 2016 client's messages arrive whole, in order, and its disconnect
   closes with 1000 after delivering them; a 2016 server's broadcasts arrive whole (2016: above
   about 118 bytes the stream was corrupted) and in order, and its shutdown closes with 1001.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ws_api/client.h>
#include <ws_api/server.h>

#define LONG_LEN 5000

static char localhost[] = "127.0.0.1";
static char slash[] = "/";

static void
fill_letters (char *buf, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = (char) ('A' + i % 26);
  buf[len] = '\0';
}

/* 2016 client -> callback-API server.  */
static void
check_legacy_client (void)
{
  recorder srv;
  ws_context *server;
  int port, msgqid, service_pid, i;
  unsigned n = test_scaled (1000, 100);
  static char long_msg[LONG_LEN + 1];
  char msg[32];

  recorder_init (&srv, "server");
  srv.keep = 1;
  server = start_server (&srv);
  port = ws_local_port (server);
  fill_letters (long_msg, LONG_LEN);

  CHECK_INT (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL,
                                      &msgqid, &service_pid), 0);
  for (i = 0; i < (int) n; i++)
    {
      snprintf (msg, sizeof msg, "message %d", i);
      CHECK_INT (websocket_client_send_msg (msg, msgqid, port), 0);
    }
  CHECK_INT (websocket_client_send_msg (long_msg, msgqid, port), 0);
  /* Returns once everything was handed to the kernel and the connection closed.  */
  websocket_client_disconnect (service_pid);

  WAIT_UNTIL (srv.closes == 1);
  CHECK_INT (srv.connects, 1);
  CHECK_INT (srv.last_close_code, 1000);
  CHECK_INT (srv.receives, n + 1);
  for (i = 0; i < (int) n; i++)
    {
      snprintf (msg, sizeof msg, "message %d", i);
      CHECK_INT (srv.msgs[i].type, WS_MSG_TEXT);
      CHECK_INT (srv.msgs[i].len, strlen (msg));
      if (memcmp (srv.msgs[i].data, msg, strlen (msg)) != 0)
        FAIL ("message %d arrived as \"%s\"", i, (const char *) srv.msgs[i].data);
    }
  CHECK_INT (srv.msgs[n].len, LONG_LEN);
  CHECK (memcmp (srv.msgs[n].data, long_msg, LONG_LEN) == 0);
  CHECK_INT (srv.bad_id, 0);

  destroy_or_die (server, 1000);
  recorder_free (&srv);
}

/* Callback-API client -> 2016 server.  */
static void
check_legacy_server (void)
{
  recorder cli;
  ws_context *client;
  int port, msgqid, service_pid, i;
  unsigned n = test_scaled (1000, 100);
  static char long_msg[LONG_LEN + 1];
  char msg[32];

  recorder_init (&cli, "client");
  cli.keep = 1;
  fill_letters (long_msg, LONG_LEN);

  CHECK_INT (websocket_server_create (NULL, 0, 0, NULL, NULL, NULL, NULL, &msgqid,
                                      &service_pid), 0);
  port = ws_legacy_local_port (service_pid);
  CHECK (port > 0);
  client = start_client (&cli, (uint16_t) port);
  WAIT_UNTIL (cli.connects == 1);

  for (i = 0; i < (int) n; i++)
    {
      snprintf (msg, sizeof msg, "broadcast %d", i);
      CHECK_INT (websocket_server_broadcast_msg (msg, msgqid, port), 0);
    }
  CHECK_INT (websocket_server_broadcast_msg (long_msg, msgqid, port), 0);
  WAIT_UNTIL (cli.receives == (int) n + 1);
  for (i = 0; i < (int) n; i++)
    {
      snprintf (msg, sizeof msg, "broadcast %d", i);
      CHECK_INT (cli.msgs[i].type, WS_MSG_TEXT);
      CHECK_INT (cli.msgs[i].len, strlen (msg));
      if (memcmp (cli.msgs[i].data, msg, strlen (msg)) != 0)
        FAIL ("broadcast %d arrived as \"%s\"", i, (const char *) cli.msgs[i].data);
    }
  CHECK_INT (cli.msgs[n].len, LONG_LEN);
  CHECK (memcmp (cli.msgs[n].data, long_msg, LONG_LEN) == 0);

  websocket_server_shutdown (service_pid);
  WAIT_UNTIL (cli.closes >= 1);
  CHECK_INT (cli.last_close_code, 1001);
  CHECK_INT (cli.bad_id, 0);

  /* The client now retries a server that is gone: stop it.  */
  destroy_or_die (client, 0);
  recorder_free (&cli);
}

int
main (void)
{
  check_legacy_client ();
  check_legacy_server ();
  printf ("ok\n");
  return 0;
}
