/* wss:// edge cases through the C API: a plain client against a TLS server and a TLS client
   against a plain server both fail fast (well before the handshake timeout) without hanging; a
   TCP client that connects to the TLS port and says nothing delays nobody and is dropped at the
   handshake timeout; many messages over wss arrive complete and in order.  The server's
   self-signed certificate is made here with the openssl CLI in a mkdtemp directory.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char cert[96], key[96];

static void
remove_certs (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", dir);
}

static void
make_cert (void)
{
  char cmd[512];
  int rc;

  strcpy (dir, "/tmp/ws_api-tls-XXXXXX");
  if (mkdtemp (dir) == NULL)
    FAIL ("mkdtemp failed");
  atexit (remove_certs);
  snprintf (cert, sizeof cert, "%s/self.pem", dir);
  snprintf (key, sizeof key, "%s/self.key", dir);
  snprintf (cmd, sizeof cmd,
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
            " -keyout '%s' -out '%s' -days 30 -subj /CN=127.0.0.1"
            " -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", key, cert);
  rc = system (cmd);
  if (rc != 0)
    FAIL ("openssl failed (status %d): %s", rc, cmd);
}

/* A server on 127.0.0.1, with TLS when TLS is set.  */
static ws_context *
server (recorder *r, int tls, uint32_t handshake_timeout_ms)
{
  ws_options *o = server_options (r);

  if (tls)
    {
      CHECK_OK (ws_options_set_tls (o, 1));
      CHECK_OK (ws_options_set_cert (o, cert));
      CHECK_OK (ws_options_set_key (o, key));
    }
  CHECK_OK (ws_options_set_handshake_timeout_ms (o, handshake_timeout_ms));
  return create_or_die (o, r);
}

/* A client, with TLS (trusting the self-signed server) when TLS is set.  */
static ws_context *
client (recorder *r, uint16_t port, int tls)
{
  ws_options *o = client_options (r, port);

  if (tls)
    {
      CHECK_OK (ws_options_set_tls (o, 1));
      CHECK_OK (ws_options_set_allow_self_signed (o, 1));
    }
  return create_or_die (o, r);
}

/* The client's first error arrives well before the 10 s handshake timeout.  */
static void
mismatch (int server_tls, ws_status expected)
{
  recorder srv, cli;
  ws_context *s, *c;
  uint64_t t0;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  s = server (&srv, server_tls, 10000);
  t0 = test_now_ms ();
  c = client (&cli, ws_local_port (s), !server_tls);
  WAIT_UNTIL_MS (cli.errors >= 1, 3000);
  test_lock ();
  if (expected != WS_OK)
    CHECK_STATUS (cli.last_error_status, expected);
  CHECK_INT (cli.connects, 0);
  CHECK_INT (srv.connects, 0);
  test_unlock ();
  CHECK (test_now_ms () - t0 < 3000 * (uint64_t) test_time_factor ());
  destroy_or_die (c, 0);
  destroy_or_die (s, 0);
  recorder_free (&srv);
  recorder_free (&cli);
}

static void
silent_peer (void)
{
  recorder srv, cli;
  ws_context *s, *c;
  uint32_t timeout_ms = 2000 * test_time_factor ();
  uint64_t t0, connected_after, dropped_after;
  char buf[64];
  int fd, eof = 0;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  s = server (&srv, 1, timeout_ms);
  t0 = test_now_ms ();
  fd = raw_connect (ws_local_port (s));
  c = client (&cli, ws_local_port (s), 1);
  WAIT_UNTIL (cli.connects == 1 && srv.connects == 1);
  connected_after = test_now_ms () - t0;
  /* The silent connection's handshake is still pending when the other got through.  */
  CHECK (connected_after < timeout_ms);
  /* And it is dropped by the handshake timeout: EOF without a byte.  */
  CHECK_INT (raw_read_until (fd, buf, sizeof buf, NULL, 2 * timeout_ms, &eof), 0);
  CHECK (eof);
  dropped_after = test_now_ms () - t0;
  CHECK (dropped_after + 100 >= timeout_ms);
  close (fd);
  destroy_or_die (c, 1000);
  destroy_or_die (s, 1000);
  recorder_free (&srv);
  recorder_free (&cli);
}

static void
many_messages (void)
{
  recorder srv, cli;
  ws_context *s, *c;
  unsigned n = test_scaled (50000, 2000), i;
  char msg[32];

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = 1;
  s = server (&srv, 1, 10000);
  c = client (&cli, ws_local_port (s), 1);
  WAIT_UNTIL (cli.connects == 1);
  for (i = 0; i < n; i++)
    {
      int len = snprintf (msg, sizeof msg, "message %u", i);
      CHECK_OK (ws_send (c, 0, msg, (size_t) len, WS_MSG_TEXT));
    }
  WAIT_UNTIL_MS (srv.receives == (int) n, 60000);
  test_lock ();
  for (i = 0; i < n; i++)
    {
      int len = snprintf (msg, sizeof msg, "message %u", i);
      CHECK_INT (srv.msgs[i].len, len);
      CHECK (memcmp (srv.msgs[i].data, msg, (size_t) len) == 0);
    }
  test_unlock ();
  CHECK_U64 (destroy_or_die (c, 5000), 0);
  destroy_or_die (s, 1000);
  recorder_free (&srv);
  recorder_free (&cli);
}

int
main (void)
{
  make_cert ();
  /* Plain client, TLS server: the server refuses the plain request at once.  */
  mismatch (1, WS_OK);
  /* TLS client, plain server: the server refuses the ClientHello at once.  */
  mismatch (0, WS_ERR_TLS);
  silent_peer ();
  many_messages ();
  return 0;
}
