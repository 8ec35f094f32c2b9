/* Handshake-level options with real connections: the server's path and subprotocol decide
   who gets in (a refused client gets on_error and no on_connect, and keeps retrying);
   extra client headers do not disturb the handshake; max_connections refuses the surplus
   until a place is free; index_html answers plain HTTP GETs (426 without it); a peer that
   never completes its handshake is dropped after handshake_timeout_ms.  */

#define _GNU_SOURCE /* strcasestr */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ws_context *
client_with (recorder *r, uint16_t port, const char *path, const char *protocol)
{
  ws_options *o = client_options (r, port);

  if (path != NULL)
    CHECK_OK (ws_options_set_path (o, path));
  if (protocol != NULL)
    CHECK_OK (ws_options_set_protocol (o, protocol));
  return create_or_die (o, r);
}

static void
path_and_protocol (void)
{
  recorder srv, good, none, wrong_path, wrong_proto, hdr;
  ws_options *o;
  ws_context *server, *c1, *c2, *c3, *c4, *c5;
  uint16_t port;

  recorder_init (&srv, "server");
  o = server_options (&srv);
  CHECK_OK (ws_options_set_path (o, "/logs"));
  CHECK_OK (ws_options_set_protocol (o, "syslog"));
  server = create_or_die (o, &srv);
  port = ws_local_port (server);

  recorder_init (&good, "good");
  recorder_init (&none, "no protocol");
  recorder_init (&wrong_path, "wrong path");
  recorder_init (&wrong_proto, "wrong protocol");
  recorder_init (&hdr, "with headers");
  c1 = client_with (&good, port, "/logs", "syslog");
  c2 = client_with (&none, port, "/logs", NULL);
  c3 = client_with (&wrong_path, port, "/other", "syslog");
  c4 = client_with (&wrong_proto, port, "/logs", "chat");
  o = client_options (&hdr, port);
  CHECK_OK (ws_options_set_path (o, "/logs"));
  CHECK_OK (ws_options_add_header (o, "Authorization", "Bearer abc"));
  CHECK_OK (ws_options_add_header (o, "X-Trace", "1"));
  c5 = create_or_die (o, &hdr);

  WAIT_UNTIL (good.connects == 1 && none.connects == 1 && hdr.connects == 1);
  /* The refused ones are told, retry, and never get in.  */
  WAIT_UNTIL (wrong_path.errors >= 2 && wrong_proto.errors >= 2);
  CHECK_INT (wrong_path.connects + wrong_proto.connects, 0);
  CHECK (wrong_path.last_error_message[0] != '\0');
  CHECK (wrong_proto.last_error_message[0] != '\0');
  CHECK_INT (srv.connects, 3);
  CHECK_U64 (stats_of (server).connections_current, 3);

  /* The ones let in work.  */
  CHECK_OK (ws_send (c1, 0, "a", 1, WS_MSG_TEXT));
  CHECK_OK (ws_send (c2, 0, "b", 1, WS_MSG_TEXT));
  CHECK_OK (ws_send (c5, 0, "c", 1, WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == 3);

  destroy_or_die (c3, 0);
  destroy_or_die (c4, 0);
  CHECK_U64 (destroy_or_die (c1, 1000), 0);
  CHECK_U64 (destroy_or_die (c2, 1000), 0);
  CHECK_U64 (destroy_or_die (c5, 1000), 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  CHECK_INT (srv.connects, 3);
  CHECK_INT (srv.bad_id + good.bad_id + none.bad_id + hdr.bad_id, 0);
}

static void
max_connections (void)
{
  recorder srv, a, b, c;
  ws_options *o;
  ws_context *server, *ca, *cb, *cc;

  recorder_init (&srv, "server");
  recorder_init (&a, "a");
  recorder_init (&b, "b");
  recorder_init (&c, "c");
  o = server_options (&srv);
  CHECK_OK (ws_options_set_max_connections (o, 2));
  server = create_or_die (o, &srv);
  ca = start_client (&a, ws_local_port (server));
  cb = start_client (&b, ws_local_port (server));
  WAIT_UNTIL (a.connects == 1 && b.connects == 1);
  cc = start_client (&c, ws_local_port (server));
  WAIT_UNTIL (c.errors >= 2);
  CHECK_INT (c.connects, 0);
  CHECK_INT (srv.connects, 2);
  CHECK_U64 (stats_of (server).connections_current, 2);
  /* A place frees up: the retrying client gets it.  */
  CHECK_U64 (destroy_or_die (ca, 1000), 0);
  WAIT_UNTIL (c.connects == 1);
  CHECK_INT (srv.connects, 3);
  CHECK_U64 (destroy_or_die (cb, 1000), 0);
  CHECK_U64 (destroy_or_die (cc, 1000), 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  CHECK_INT (srv.bad_id + c.bad_id, 0);
}

static void
http_get (void)
{
  char path[] = "/tmp/ws_api_index_XXXXXX";
  static const char page[] = "<html><body>ws_api test page</body></html>\n";
  char resp[8192];
  ws_options *o;
  ws_context *with, *without;
  int fd, eof;
  static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

  fd = mkstemp (path);
  CHECK (fd >= 0);
  CHECK (write (fd, page, strlen (page)) == (ssize_t) strlen (page));
  close (fd);

  o = server_options (NULL);
  CHECK_OK (ws_options_set_index_html (o, path));
  with = create_or_die (o, NULL);
  fd = raw_connect (ws_local_port (with));
  raw_write (fd, get, strlen (get));
  raw_read_until (fd, resp, sizeof resp, "</html>", TEST_WAIT_MS, &eof);
  close (fd);
  if (strncmp (resp, "HTTP/1.1 200", 12) != 0 || strstr (resp, page) == NULL)
    FAIL ("GET with index_html answered: \"%.200s\"", resp);
  if (strcasestr (resp, "text/html") == NULL)
    FAIL ("index_html not served as text/html: \"%.200s\"", resp);
  /* A WebSocket client still gets in on the same path.  */
  fd = raw_connect (ws_local_port (with));
  CHECK_INT (raw_handshake (fd, "/"), 101);
  close (fd);

  without = create_or_die (server_options (NULL), NULL);
  fd = raw_connect (ws_local_port (without));
  raw_write (fd, get, strlen (get));
  raw_read_until (fd, resp, sizeof resp, "\r\n\r\n", TEST_WAIT_MS, &eof);
  close (fd);
  if (strncmp (resp, "HTTP/1.1 426", 12) != 0)
    FAIL ("GET without index_html answered: \"%.200s\"", resp);

  CHECK_U64 (destroy_or_die (with, 1000), 0);
  CHECK_U64 (destroy_or_die (without, 1000), 0);
  unlink (path);
}

static void
handshake_timeout (void)
{
  recorder srv;
  ws_options *o;
  ws_context *server;
  int fd, eof;
  char buf[256];
  uint64_t t0;

  recorder_init (&srv, "server");
  o = server_options (&srv);
  CHECK_OK (ws_options_set_handshake_timeout_ms (o, 300));
  server = create_or_die (o, &srv);
  t0 = test_now_ms ();
  fd = raw_connect (ws_local_port (server));
  /* Half a request line, then silence: the server must hang up by itself.  */
  raw_write (fd, "GET / HT", 8);
  raw_read_until (fd, buf, sizeof buf, NULL, TEST_WAIT_MS, &eof);
  if (!eof)
    FAIL ("the server kept a silent half-handshake open for %llu ms",
          (unsigned long long) (test_now_ms () - t0));
  CHECK (test_now_ms () - t0 >= 250);
  close (fd);
  CHECK_INT (srv.connects + srv.closes, 0);  /* never a WebSocket connection */
  CHECK_U64 (stats_of (server).connections_current, 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
}

int
main (void)
{
  path_and_protocol ();
  max_connections ();
  http_get ();
  handshake_timeout ();
  return 0;
}
