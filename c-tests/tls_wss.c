/* wss:// through the C API: a verified round trip, a self-signed server refused by default and
   accepted with allow_self_signed, mutual TLS accepted with a client certificate and refused
   without one, and unusable certificate files refused by ws_context_create with WS_ERR_TLS and a
   message naming the file.  The certificates are made here with the openssl CLI in a mkdtemp
   directory, removed at the end.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

/* DIR/NAME in a static buffer (one of a few, so several can be used in one call).  */
static const char *
path (const char *name)
{
  static char bufs[4][128];
  static int next;
  char *b = bufs[next++ % 4];

  snprintf (b, sizeof bufs[0], "%s/%s", dir, name);
  return b;
}

static void
sh (const char *fmt, const char *arg)
{
  char cmd[2048];
  int rc;

  snprintf (cmd, sizeof cmd, fmt, arg);
  rc = system (cmd);
  if (rc != 0)
    FAIL ("command failed (status %d): %s", rc, cmd);
}

/* Removes the certificate directory however the test ends (test_fail exits).  */
static void
remove_certs (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", dir);
}

/* ca.pem: a root CA; server.pem: 127.0.0.1 signed by it; client.pem: a client certificate
   signed by it; self.pem: self-signed for 127.0.0.1; garbage.pem: not PEM at all.  */
static void
make_certs (void)
{
  strcpy (dir, "/tmp/ws_api-tls-XXXXXX");
  if (mkdtemp (dir) == NULL)
    FAIL ("mkdtemp failed");
  atexit (remove_certs);
  sh ("cd '%s' && exec >/dev/null 2>&1 && set -e"
      " && ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'"
      " && openssl req -x509 $ec -keyout ca.key -out ca.pem -days 30 -subj '/CN=C test CA'"
      " && printf 'subjectAltName=IP:127.0.0.1\\n' >ext_srv"
      " && printf 'extendedKeyUsage=clientAuth\\n' >ext_cli"
      " && openssl req -new $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      "    -out server.pem -days 30 -extfile ext_srv"
      " && openssl req -new $ec -keyout client.key -out client.csr -subj /CN=client"
      " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      "    -out client.pem -days 30 -extfile ext_cli"
      " && openssl req -x509 $ec -keyout self.key -out self.pem -days 30 -subj /CN=127.0.0.1"
      "    -addext subjectAltName=IP:127.0.0.1"
      " && echo 'not a certificate' >garbage.pem",
      dir);
}

static ws_context *
tls_server (recorder *r, const char *name, const char *cacert)
{
  ws_options *o = server_options (r);
  char cert[64], key[64];

  snprintf (cert, sizeof cert, "%s.pem", name);
  snprintf (key, sizeof key, "%s.key", name);
  CHECK_OK (ws_options_set_tls (o, 1));
  CHECK_OK (ws_options_set_cert (o, path (cert)));
  CHECK_OK (ws_options_set_key (o, path (key)));
  if (cacert != NULL)
    CHECK_OK (ws_options_set_cacert (o, path (cacert)));
  return create_or_die (o, r);
}

/* A TLS client; CACERT and the client pair NAME may be NULL; ALLOW sets allow_self_signed.  */
static ws_context *
tls_client (recorder *r, uint16_t port, const char *cacert, const char *name, int allow)
{
  ws_options *o = client_options (r, port);
  char cert[64], key[64];

  CHECK_OK (ws_options_set_tls (o, 1));
  if (cacert != NULL)
    CHECK_OK (ws_options_set_cacert (o, path (cacert)));
  if (name != NULL)
    {
      snprintf (cert, sizeof cert, "%s.pem", name);
      snprintf (key, sizeof key, "%s.key", name);
      CHECK_OK (ws_options_set_cert (o, path (cert)));
      CHECK_OK (ws_options_set_key (o, path (key)));
    }
  CHECK_OK (ws_options_set_allow_self_signed (o, allow));
  return create_or_die (o, r);
}

/* Both sides connect, one message each way, then both are destroyed.  */
static void
round_trip (const char *server_pair, const char *server_ca, const char *client_ca,
            const char *client_pair, int allow)
{
  recorder srv, cli;
  ws_context *server, *client;
  static const char msg[] = "over wss";

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  srv.echo = 1;
  server = tls_server (&srv, server_pair, server_ca);
  client = tls_client (&cli, ws_local_port (server), client_ca, client_pair, allow);
  WAIT_UNTIL (cli.connects == 1 && srv.connects == 1);
  CHECK_OK (ws_send (client, 0, msg, strlen (msg), WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 1);
  CHECK_INT (cli.msgs[0].len, strlen (msg));
  CHECK (memcmp (cli.msgs[0].data, msg, strlen (msg)) == 0);
  CHECK_INT (cli.errors, 0);
  CHECK_U64 (destroy_or_die (client, 2000), 0);
  WAIT_UNTIL (srv.closes == 1);
  CHECK_INT (srv.last_close_code, 1001);
  CHECK_INT (srv.errors, 0);
  destroy_or_die (server, 1000);
  recorder_free (&srv);
  recorder_free (&cli);
}

/* The client is refused during the TLS handshake: on_error with WS_ERR_TLS and WHAT in the
   message, again after a retry, and no on_connect anywhere.  */
static void
refused (const char *server_pair, const char *server_ca, const char *client_ca,
         const char *client_pair, int allow, const char *what)
{
  recorder srv, cli;
  ws_context *server, *client;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  server = tls_server (&srv, server_pair, server_ca);
  client = tls_client (&cli, ws_local_port (server), client_ca, client_pair, allow);
  WAIT_UNTIL (cli.errors >= 2);
  test_lock ();
  CHECK_STATUS (cli.last_error_status, WS_ERR_TLS);
  if (strstr (cli.last_error_message, what) == NULL)
    FAIL ("error message \"%s\" lacks \"%s\"", cli.last_error_message, what);
  CHECK_INT (cli.connects, 0);
  CHECK_INT (srv.connects, 0);
  test_unlock ();
  destroy_or_die (client, 0);
  destroy_or_die (server, 0);
  recorder_free (&srv);
  recorder_free (&cli);
}

/* ws_context_create refuses the server options at once, naming FILE.  */
static void
create_fails (const char *cert, const char *key, const char *needle)
{
  ws_options *o = server_options (NULL);
  ws_context *c = NULL;

  CHECK_OK (ws_options_set_tls (o, 1));
  CHECK_OK (ws_options_set_cert (o, path (cert)));
  CHECK_OK (ws_options_set_key (o, path (key)));
  CHECK_STATUS (ws_context_create (o, &c), WS_ERR_TLS);
  CHECK (c == NULL);
  if (strstr (ws_last_error (), path (needle)) == NULL)
    FAIL ("ws_last_error \"%s\" does not name %s", ws_last_error (), path (needle));
  ws_options_free (o);
}

int
main (void)
{
  make_certs ();

  round_trip ("server", NULL, "ca.pem", NULL, 0);
  refused ("self", NULL, "ca.pem", NULL, 0, "self-signed");
  round_trip ("self", NULL, NULL, NULL, 1);
  round_trip ("server", "ca.pem", "ca.pem", "client", 0);
  refused ("server", "ca.pem", "ca.pem", NULL, 0, "certificate required");

  create_fails ("missing.pem", "server.key", "missing.pem");
  create_fails ("garbage.pem", "server.key", "garbage.pem");
  create_fails ("server.pem", "garbage.pem", "garbage.pem");
  create_fails ("server.pem", "client.key", "client.key");

  return 0;
}
