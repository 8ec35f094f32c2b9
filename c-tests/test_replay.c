/* Replay for subscribers (docs/replay.md) through the C API: ws_options_set_replay_retention
   checks its arguments; a server keeping 100 broadcasts answers a client that connects with
   ?since=0 with the metadata message, then the 10 broadcasts made before it connected, then a
   live one; ?since=7 gets only 8..11; the 101 answer names the next number (WS-API-Seq); a
   malformed since is refused with 400.  */

#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A client of the server on PORT asking for the broadcasts after SINCE.  */
static ws_context *
replay_client (recorder *r, uint16_t port, const char *path)
{
  ws_options *o = client_options (r, port);

  CHECK_OK (ws_options_set_path (o, path));
  return create_or_die (o, r);
}

static void
check_text (const recorder *r, size_t i, const char *want)
{
  if (i >= r->n_msgs || strcmp ((const char *) r->msgs[i].data, want) != 0)
    FAIL ("%s, message %zu: got \"%s\", expected \"%s\"", r->name, i,
          i < r->n_msgs ? (const char *) r->msgs[i].data : "(none)", want);
}

int
main (void)
{
  static const char upgrade[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";
  recorder srv, all, mid, bad;
  ws_options *o;
  ws_context *server, *c_all, *c_mid, *c_bad;
  char line[32], resp[4096];
  int i, fd, eof;

  /* Argument checks.  */
  CHECK_INT (ws_options_set_replay_retention (NULL, 10, 0), WS_ERR_INVALID_ARGUMENT);
  o = ws_options_new (WS_MODE_CLIENT);
  CHECK_INT (ws_options_set_replay_retention (o, 10, 0), WS_ERR_INVALID_ARGUMENT);
  ws_options_free (o);
  o = ws_options_new (WS_MODE_SERVER);
  CHECK_INT (ws_options_set_replay_retention (o, (1ULL << 30) + 1, 0), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_options_set_replay_retention (o, 0, 0));
  CHECK_OK (ws_options_set_replay_retention (o, 1ULL << 30, 1));
  ws_options_free (o);

  recorder_init (&srv, "server");
  o = server_options (&srv);
  CHECK_OK (ws_options_set_replay_retention (o, 100, 0));
  server = create_or_die (o, &srv);
  for (i = 1; i <= 10; i++)
    {
      int len = snprintf (line, sizeof line, "line %d", i);

      CHECK_OK (ws_broadcast (server, line, (size_t) len, WS_MSG_TEXT));
    }

  /* The handshake answer names the next number.  */
  fd = raw_connect (ws_local_port (server));
  raw_write (fd, upgrade, strlen (upgrade));
  raw_read_until (fd, resp, sizeof resp, "\r\n\r\n", TEST_WAIT_MS, &eof);
  if (strncmp (resp, "HTTP/1.1 101", 12) != 0 || !strstr (resp, "\r\nWS-API-Seq: 11\r\n"))
    FAIL ("the 101 answer does not say WS-API-Seq: 11: \"%s\"", resp);
  close (fd);

  recorder_init (&all, "since=0");
  all.keep = 1;
  c_all = replay_client (&all, ws_local_port (server), "/?since=0");
  recorder_init (&mid, "since=7");
  mid.keep = 1;
  c_mid = replay_client (&mid, ws_local_port (server), "/?since=7");
  WAIT_UNTIL (all.receives == 11 && mid.receives == 4);
  CHECK_OK (ws_broadcast (server, "line 11", 7, WS_MSG_TEXT));
  WAIT_UNTIL (all.receives == 12 && mid.receives == 5);
  check_text (&all, 0, "{\"ws_api\":\"replay\",\"first\":1,\"missed\":0}");
  for (i = 1; i <= 11; i++)
    {
      snprintf (line, sizeof line, "line %d", i);
      check_text (&all, (size_t) i, line);
    }
  check_text (&mid, 0, "{\"ws_api\":\"replay\",\"first\":8,\"missed\":0}");
  for (i = 8; i <= 11; i++)
    {
      snprintf (line, sizeof line, "line %d", i);
      check_text (&mid, (size_t) (i - 7), line);
    }

  /* A since that is not a number: refused, the client hears why and retries.  */
  fd = raw_connect (ws_local_port (server));
  CHECK_INT (raw_handshake (fd, "/?since=abc"), 400);
  close (fd);
  recorder_init (&bad, "bad since");
  c_bad = replay_client (&bad, ws_local_port (server), "/?since=18446744073709551616");
  WAIT_UNTIL (bad.errors >= 1);
  CHECK_INT (bad.connects, 0);
  CHECK (stats_of (server).handshakes_refused >= 2);

  CHECK_U64 (destroy_or_die (c_bad, 0), 0);
  CHECK_U64 (destroy_or_die (c_all, 1000), 0);
  CHECK_U64 (destroy_or_die (c_mid, 1000), 0);
  CHECK_INT (all.receives, 12);     /* nothing extra, nothing twice */
  CHECK_INT (mid.receives, 5);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  recorder_free (&all);
  recorder_free (&mid);
  recorder_free (&bad);
  recorder_free (&srv);
  printf ("test_replay: ok\n");
  return 0;
}
