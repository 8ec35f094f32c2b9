/* ws_options_add_trusted_proxy: the setter refuses what is not an address or a CIDR block
   (and client mode) with a message; a server that trusts 127.0.0.1 reports the client that a
   raw request's X-Forwarded-For or Forwarded header names (port 0 when the header has none),
   in ws_peer_address and to the handshake filter alike; a server that trusts no proxy ignores
   the same headers and reports the TCP peer.  Real sockets on 127.0.0.1 only: the header
   addresses are documentation addresses sent as text, never connected to.  */

#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The address the handshake filter saw last.  */
static struct
{
  char ip[46];
  uint16_t port;
} filtered;

static int
filter (const ws_handshake_request *req, void *user)
{
  (void) user;
  test_lock ();
  if (ws_request_peer_address (req, filtered.ip, sizeof filtered.ip, &filtered.port) != WS_OK)
    filtered.ip[0] = '\0';
  test_signal ();
  test_unlock ();
  return 0;
}

static void
setter_checks (void)
{
  ws_options *o = ws_options_new (WS_MODE_SERVER);
  ws_options *c = ws_options_new (WS_MODE_CLIENT);
  const char *bad[] = { "", "localhost", "127.0.0.1 ", "10.0.0.0/33", "::/129", "10.0.0.0/",
                        "10.1.2.3/8", "1.2.3.4:80", "[::1]", "fe80::1%eth0",
                        "127.0.0.1\r\nX-Injected: 1" };
  size_t i;

  CHECK (o != NULL && c != NULL);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      CHECK_STATUS (ws_options_add_trusted_proxy (o, bad[i]), WS_ERR_INVALID_ARGUMENT);
      if (strstr (ws_last_error (), "trusted proxy") == NULL)
        FAIL ("no clear message for \"%s\": \"%s\"", bad[i], ws_last_error ());
    }
  /* The message says where the block starts.  */
  CHECK_STATUS (ws_options_add_trusted_proxy (o, "10.1.2.3/8"), WS_ERR_INVALID_ARGUMENT);
  CHECK (strstr (ws_last_error (), "10.0.0.0") != NULL);
  CHECK_STATUS (ws_options_add_trusted_proxy (o, NULL), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_add_trusted_proxy (NULL, "127.0.0.1"), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_add_trusted_proxy (c, "127.0.0.1"), WS_ERR_INVALID_ARGUMENT);
  CHECK (strstr (ws_last_error (), "server") != NULL);
  CHECK_OK (ws_options_add_trusted_proxy (o, "127.0.0.1"));
  CHECK_OK (ws_options_add_trusted_proxy (o, "10.0.0.0/8"));
  CHECK_OK (ws_options_add_trusted_proxy (o, "::1/128"));
  CHECK_OK (ws_options_add_trusted_proxy (o, "fd00::/8"));
  ws_options_free (o);
  ws_options_free (c);
}

/* Opens a WebSocket with the EXTRA header lines (CRLF-terminated) on a raw socket, waits for
   the server's on_connect and checks the address it reports against IP and PORT (PORT -1:
   anything but 0, the TCP peer's own port).  Closes the socket and waits for the close.  */
static void
check_reported (ws_context *server, recorder *srv, const char *extra, const char *ip, int port)
{
  char req[1024], resp[4096], got[46];
  int fd, len, eof, code = 0, closes;
  uint16_t got_port = 0;

  test_lock ();
  closes = srv->closes;
  filtered.ip[0] = '\0';
  test_unlock ();
  fd = raw_connect (ws_local_port (server));
  len = snprintf (req, sizeof req,
                  "GET / HTTP/1.1\r\n"
                  "Host: logs.example\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "%s\r\n", extra);
  CHECK (len > 0 && (size_t) len < sizeof req);
  raw_write (fd, req, (size_t) len);
  raw_read_until (fd, resp, sizeof resp, "\r\n\r\n", TEST_WAIT_MS, &eof);
  if (sscanf (resp, "HTTP/1.1 %d", &code) != 1 || code != 101)
    FAIL ("not accepted: \"%.120s\"", resp);
  WAIT_UNTIL (srv->n_open == 1);
  test_lock ();
  CHECK_OK (ws_peer_address (server, srv->open_conns[0], got, sizeof got, &got_port));
  if (strcmp (got, ip) != 0)
    FAIL ("with \"%s\": peer %s, expected %s", extra, got, ip);
  if (port >= 0)
    CHECK_INT (got_port, port);
  else
    CHECK (got_port != 0);
  /* The filter saw the same.  */
  CHECK (strcmp (filtered.ip, got) == 0);
  CHECK_INT (filtered.port, got_port);
  test_unlock ();
  close (fd);
  WAIT_UNTIL (srv->closes == closes + 1 && srv->n_open == 0);
}

static ws_context *
server_trusting (recorder *srv, const char *proxy)
{
  ws_options *o = server_options (srv);

  if (proxy != NULL)
    CHECK_OK (ws_options_add_trusted_proxy (o, proxy));
  CHECK_OK (ws_options_set_handshake_filter (o, filter, NULL));
  return create_or_die (o, srv);
}

int
main (void)
{
  recorder srv;
  ws_context *server;

  setter_checks ();

  recorder_init (&srv, "trusting server");
  server = server_trusting (&srv, "127.0.0.1");
  /* The proxy appended the client; the client's own claim on the left is not believed.  */
  check_reported (server, &srv, "X-Forwarded-For: 203.0.113.66, 198.51.100.23\r\n",
                  "198.51.100.23", 0);
  /* Trusted hops are skipped from the right.  */
  check_reported (server, &srv, "X-Forwarded-For: 198.51.100.23, 127.0.0.1\r\n",
                  "198.51.100.23", 0);
  check_reported (server, &srv, "Forwarded: for=\"[2001:db8::5]:4711\";proto=https\r\n",
                  "2001:db8::5", 4711);
  /* Both headers naming the same client: Forwarded's port.  */
  check_reported (server, &srv,
                  "X-Forwarded-For: 198.51.100.23\r\nForwarded: for=\"198.51.100.23:99\"\r\n",
                  "198.51.100.23", 99);
  /* Disagreeing, malformed or hidden: the TCP peer.  */
  check_reported (server, &srv,
                  "X-Forwarded-For: 198.51.100.23\r\nForwarded: for=203.0.113.66\r\n",
                  "127.0.0.1", -1);
  check_reported (server, &srv, "X-Forwarded-For: 198.51.100.23, not-an-address\r\n",
                  "127.0.0.1", -1);
  check_reported (server, &srv, "Forwarded: for=unknown\r\n", "127.0.0.1", -1);
  check_reported (server, &srv, "", "127.0.0.1", -1);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  recorder_free (&srv);

  /* Trusting another network, or nothing: headers from 127.0.0.1 are ignored.  */
  recorder_init (&srv, "server trusting 10.0.0.0/8");
  server = server_trusting (&srv, "10.0.0.0/8");
  check_reported (server, &srv, "X-Forwarded-For: 198.51.100.23\r\n", "127.0.0.1", -1);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  recorder_free (&srv);
  recorder_init (&srv, "server trusting nobody");
  server = server_trusting (&srv, NULL);
  check_reported (server, &srv, "Forwarded: for=198.51.100.23\r\n", "127.0.0.1", -1);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  recorder_free (&srv);

  printf ("test_trusted_proxy: ok\n");
  return 0;
}
