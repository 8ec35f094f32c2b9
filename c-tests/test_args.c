/* Every public function given NULL, an unknown connection id, a bad port, a bad value, CR or LF
   in a string sent on the wire, or the wrong mode answers the documented status (and sets ws_last_error); a second destroy of the
   same context is harmless.  */

#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A failed call sets a non-empty ws_last_error on this thread.  */
#define CHECK_FAILS(call, expected)                                     \
  do                                                                    \
    {                                                                   \
      CHECK_STATUS (call, expected);                                    \
      if (ws_last_error () == NULL || ws_last_error ()[0] == '\0')      \
        FAIL ("%s failed without setting ws_last_error", #call);        \
    }                                                                   \
  while (0)

#define INVALID WS_ERR_INVALID_ARGUMENT

static void
options_null (void)
{
  ws_callbacks cbs;

  memset (&cbs, 0, sizeof cbs);
  ws_options_free (NULL);       /* documented: NULL is ignored */
  CHECK_FAILS (ws_options_set_address (NULL, "127.0.0.1"), INVALID);
  CHECK_FAILS (ws_options_set_port (NULL, 80), INVALID);
  CHECK_FAILS (ws_options_set_path (NULL, "/"), INVALID);
  CHECK_FAILS (ws_options_set_protocol (NULL, "p"), INVALID);
  CHECK_FAILS (ws_options_add_header (NULL, "X-A", "b"), INVALID);
  CHECK_FAILS (ws_options_set_tls (NULL, 0), INVALID);
  CHECK_FAILS (ws_options_set_cert (NULL, "/nonexistent.pem"), INVALID);
  CHECK_FAILS (ws_options_set_key (NULL, "/nonexistent.pem"), INVALID);
  CHECK_FAILS (ws_options_set_cacert (NULL, "/nonexistent.pem"), INVALID);
  CHECK_FAILS (ws_options_set_allow_self_signed (NULL, 1), INVALID);
  CHECK_FAILS (ws_options_set_max_message_size (NULL, 1024), INVALID);
  CHECK_FAILS (ws_options_set_queue_capacity (NULL, 16), INVALID);
  CHECK_FAILS (ws_options_set_ping_interval_ms (NULL, 1000), INVALID);
  CHECK_FAILS (ws_options_set_pong_timeout_ms (NULL, 1000), INVALID);
  CHECK_FAILS (ws_options_set_reconnect_backoff_ms (NULL, 10, 100), INVALID);
  CHECK_FAILS (ws_options_set_handshake_timeout_ms (NULL, 1000), INVALID);
  CHECK_FAILS (ws_options_set_max_connections (NULL, 10), INVALID);
  CHECK_FAILS (ws_options_set_max_buffered_bytes (NULL, 1 << 20), INVALID);
  CHECK_FAILS (ws_options_set_message_timeout_ms (NULL, 1000), INVALID);
  CHECK_FAILS (ws_options_set_slow_policy (NULL, WS_SLOW_DROP_OLDEST), INVALID);
  CHECK_FAILS (ws_options_set_index_html (NULL, "/nonexistent.html"), INVALID);
  CHECK_FAILS (ws_options_set_dispatch (NULL, WS_DISPATCH_MANUAL), INVALID);
  CHECK_FAILS (ws_options_set_callbacks (NULL, &cbs, NULL), INVALID);
}

static void
options_values (void)
{
  ws_options *srv = ws_options_new (WS_MODE_SERVER);
  ws_options *cli = ws_options_new (WS_MODE_CLIENT);

  CHECK (srv != NULL);
  CHECK (cli != NULL);
  CHECK (ws_options_new ((ws_mode) 7) == NULL);
  CHECK (ws_options_new ((ws_mode) -1) == NULL);

  /* Ports: server 0..65535 (0 = any), client 1..65535.  */
  CHECK_OK (ws_options_set_port (srv, 0));
  CHECK_OK (ws_options_set_port (srv, 65535));
  CHECK_FAILS (ws_options_set_port (srv, -1), INVALID);
  CHECK_FAILS (ws_options_set_port (srv, 65536), INVALID);
  CHECK_FAILS (ws_options_set_port (srv, 100000), INVALID);
  CHECK_OK (ws_options_set_port (cli, 1));
  CHECK_OK (ws_options_set_port (cli, 65535));
  CHECK_FAILS (ws_options_set_port (cli, 0), INVALID);
  CHECK_FAILS (ws_options_set_port (cli, -80), INVALID);
  CHECK_FAILS (ws_options_set_port (cli, 65536), INVALID);

  CHECK_FAILS (ws_options_set_address (cli, NULL), INVALID);
  CHECK_FAILS (ws_options_set_address (cli, ""), INVALID);
  CHECK_OK (ws_options_set_address (cli, "localhost"));

  CHECK_OK (ws_options_set_path (cli, "/a/b?c=d"));
  CHECK_FAILS (ws_options_set_path (cli, NULL), INVALID);
  CHECK_FAILS (ws_options_set_path (cli, "no-slash"), INVALID);
  CHECK_FAILS (ws_options_set_path (srv, ""), INVALID);

  /* NULL or "" = no subprotocol.  */
  CHECK_OK (ws_options_set_protocol (cli, NULL));
  CHECK_OK (ws_options_set_protocol (cli, ""));
  CHECK_OK (ws_options_set_protocol (srv, "syslog"));

  CHECK_OK (ws_options_add_header (cli, "Authorization", "Bearer x"));
  CHECK_FAILS (ws_options_add_header (cli, NULL, "v"), INVALID);
  CHECK_FAILS (ws_options_add_header (cli, "X-A", NULL), INVALID);
  CHECK_FAILS (ws_options_add_header (cli, "X-A", "two\r\nlines"), INVALID);
  CHECK_FAILS (ws_options_add_header (cli, "Sec-WebSocket-Key", "x"), INVALID);
  CHECK_FAILS (ws_options_add_header (cli, "Host", "x"), INVALID);

  CHECK_FAILS (ws_options_set_max_message_size (cli, 0), INVALID);
  CHECK_OK (ws_options_set_max_message_size (cli, 1));
  CHECK_FAILS (ws_options_set_queue_capacity (cli, 0), INVALID);
  CHECK_OK (ws_options_set_queue_capacity (cli, 1));
  CHECK_OK (ws_options_set_ping_interval_ms (cli, 0));  /* 0 = off */
  /* The budget is at least 64 KiB, on both sides.  */
  CHECK_FAILS (ws_options_set_max_buffered_bytes (srv, 0), INVALID);
  CHECK_FAILS (ws_options_set_max_buffered_bytes (srv, 65535), INVALID);
  CHECK_OK (ws_options_set_max_buffered_bytes (srv, 65536));
  CHECK_OK (ws_options_set_max_buffered_bytes (cli, (size_t) 1 << 30));
  CHECK_OK (ws_options_set_message_timeout_ms (srv, 0));        /* 0 = off */
  CHECK_OK (ws_options_set_message_timeout_ms (cli, 1000));
  CHECK_FAILS (ws_options_set_reconnect_backoff_ms (cli, 500, 100), INVALID);
  CHECK_OK (ws_options_set_reconnect_backoff_ms (cli, 100, 100));
  CHECK_FAILS (ws_options_set_dispatch (cli, (ws_dispatch_mode) 9), INVALID);
  CHECK_FAILS (ws_options_set_slow_policy (srv, (ws_slow_policy) 9), INVALID);
  CHECK_FAILS (ws_options_set_callbacks (cli, NULL, NULL), INVALID);

  /* Wrong mode: the contract marks these client-only or server-only.  */
  CHECK_FAILS (ws_options_add_header (srv, "X-A", "b"), INVALID);
  CHECK_FAILS (ws_options_set_allow_self_signed (srv, 1), INVALID);
  CHECK_FAILS (ws_options_set_reconnect_backoff_ms (srv, 10, 100), INVALID);
  CHECK_FAILS (ws_options_set_max_connections (cli, 10), INVALID);
  CHECK_FAILS (ws_options_set_slow_policy (cli, WS_SLOW_DISCONNECT), INVALID);
  CHECK_FAILS (ws_options_set_index_html (cli, "/dev/null"), INVALID);

  ws_options_free (srv);
  ws_options_free (cli);
}

static void
context_create (void)
{
  ws_context *c = (ws_context *) 0x1;
  ws_context *busy;
  ws_options *o;
  uint16_t port;

  CHECK_FAILS (ws_context_create (NULL, &c), INVALID);
  o = server_options (NULL);
  CHECK_FAILS (ws_context_create (o, NULL), INVALID);

  /* A server binds synchronously: a port in use answers WS_ERR_IO at once.  */
  busy = create_or_die (o, NULL);
  port = ws_local_port (busy);
  CHECK (port != 0);
  o = server_options (NULL);
  CHECK_OK (ws_options_set_port (o, port));
  c = (ws_context *) 0x1;
  CHECK_FAILS (ws_context_create (o, &c), WS_ERR_IO);
  CHECK (c == NULL);            /* a failed create leaves NULL behind */
  ws_options_free (o);

  /* An address that is not one of this machine's cannot be bound.  */
  o = server_options (NULL);
  CHECK_OK (ws_options_set_address (o, "192.0.2.1"));
  CHECK_FAILS (ws_context_create (o, &c), WS_ERR_IO);
  ws_options_free (o);

  /* A missing index_html file is an error at create time, not later.  */
  o = server_options (NULL);
  CHECK_OK (ws_options_set_index_html (o, "/nonexistent/index.html"));
  CHECK (ws_context_create (o, &c) != WS_OK);
  ws_options_free (o);

  /* TLS files that cannot be loaded: WS_ERR_TLS at create time for a server.  */
  o = server_options (NULL);
  CHECK_OK (ws_options_set_tls (o, 1));
  CHECK_OK (ws_options_set_cert (o, "/nonexistent/cert.pem"));
  CHECK_OK (ws_options_set_key (o, "/nonexistent/key.pem"));
  CHECK_OK (ws_options_set_cacert (o, "/nonexistent/ca.pem"));
  c = (ws_context *) 0x1;
  CHECK_FAILS (ws_context_create (o, &c), WS_ERR_TLS);
  CHECK (c == NULL);
  ws_options_free (o);
  o = client_options (NULL, 443);
  CHECK_OK (ws_options_set_tls (o, 1));
  CHECK_OK (ws_options_set_allow_self_signed (o, 1));
  CHECK_OK (ws_options_set_tls (o, 0));
  ws_options_free (o);

  CHECK_U64 (destroy_or_die (busy, 1000), 0);
}

static void
context_null (void)
{
  ws_stats st;
  uint64_t unsent = 77;

  memset (&st, 0, sizeof st);
  st.struct_size = sizeof st;
  CHECK_FAILS (ws_send (NULL, 1, "x", 1, WS_MSG_TEXT), INVALID);
  CHECK_FAILS (ws_broadcast (NULL, "x", 1, WS_MSG_TEXT), INVALID);
  CHECK_FAILS (ws_request_writable (NULL, 1), INVALID);
  CHECK_FAILS (ws_rx_flow (NULL, 1, 0), INVALID);
  CHECK_FAILS (ws_close_connection (NULL, 1, 1000, "bye"), INVALID);
  CHECK_FAILS (ws_flush (NULL, 10), INVALID);
  CHECK_FAILS (ws_context_destroy (NULL, 10, &unsent), INVALID);
  CHECK_U64 (unsent, 77);       /* untouched by a refused call */
  CHECK_INT (ws_local_port (NULL), 0);
  CHECK_FAILS (ws_get_stats (NULL, &st), INVALID);
  CHECK_INT (ws_event_fd (NULL), -1);
  CHECK_FAILS (ws_dispatch (NULL, 0), INVALID);
}

/* Unknown connection ids, bad payload arguments and bad close codes on live contexts.  */
static void
connection_ids (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  ws_conn_id id;
  ws_stats st;
  char long_reason[125];

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  server = start_server (&srv);

  /* No connection yet: the server knows no id, 0 included.  */
  CHECK_FAILS (ws_send (server, 0, "x", 1, WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_send (server, 12345, "x", 1, WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_request_writable (server, 12345), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_rx_flow (server, 12345, 0), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_close_connection (server, 12345, 1000, NULL), WS_ERR_NOT_CONNECTED);
  /* A broadcast with no client is not an error.  */
  CHECK_OK (ws_broadcast (server, "x", 1, WS_MSG_TEXT));
  /* Manual-dispatch functions on a thread-dispatch context.  */
  CHECK_INT (ws_event_fd (server), -1);
  CHECK_FAILS (ws_dispatch (server, 0), INVALID);
  CHECK_FAILS (ws_get_stats (server, NULL), INVALID);
  memset (&st, 0, sizeof st);   /* struct_size 0: not set */
  CHECK_FAILS (ws_get_stats (server, &st), INVALID);

  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (cli.connects == 1 && srv.connects == 1);
  id = srv.last_connect;

  /* Bad payload arguments on a good connection.  */
  CHECK_FAILS (ws_send (server, id, NULL, 5, WS_MSG_BINARY), INVALID);
  CHECK_FAILS (ws_send (server, id, "x", 1, (ws_msg_type) 0), INVALID);
  CHECK_FAILS (ws_send (server, id, "x", 1, (ws_msg_type) 3), INVALID);
  CHECK_FAILS (ws_broadcast (server, NULL, 5, WS_MSG_BINARY), INVALID);
  CHECK_FAILS (ws_send (client, 0, NULL, 5, WS_MSG_BINARY), INVALID);
  /* NULL with length 0 is an empty message, not an error.  */
  CHECK_OK (ws_send (server, id, NULL, 0, WS_MSG_BINARY));
  WAIT_UNTIL (cli.receives == 1);
  CHECK_INT (cli.received_bytes, 0);

  /* A client's only valid ids are 0 and its current connection's.  */
  CHECK_FAILS (ws_send (client, cli.last_connect + 1000, "x", 1, WS_MSG_TEXT),
               WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_request_writable (client, cli.last_connect + 1000), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_rx_flow (client, cli.last_connect + 1000, 1), WS_ERR_NOT_CONNECTED);

  /* Close codes that may not be sent, and reasons that do not fit a close frame.  */
  CHECK_FAILS (ws_close_connection (server, id, 999, NULL), INVALID);
  CHECK_FAILS (ws_close_connection (server, id, 1005, NULL), INVALID);
  CHECK_FAILS (ws_close_connection (server, id, 1006, NULL), INVALID);
  CHECK_FAILS (ws_close_connection (server, id, 1015, NULL), INVALID);
  CHECK_FAILS (ws_close_connection (server, id, 5000, NULL), INVALID);
  memset (long_reason, 'r', 124);
  long_reason[124] = '\0';
  CHECK_FAILS (ws_close_connection (server, id, 1000, long_reason), INVALID);
  CHECK_FAILS (ws_close_connection (server, id, 1000, "\xff\xfe"), INVALID);
  /* Nothing of that closed the connection.  */
  CHECK_OK (ws_send (server, id, "still open", 10, WS_MSG_TEXT));
  WAIT_UNTIL (cli.receives == 2);
  CHECK_INT (srv.closes, 0);

  CHECK_U64 (destroy_or_die (client, 2000), 0);
  WAIT_UNTIL (srv.closes == 1);
  /* The closed id is unknown now.  */
  CHECK_FAILS (ws_send (server, id, "x", 1, WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_rx_flow (server, id, 1), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_close_connection (server, id, 1000, NULL), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_request_writable (server, id), WS_ERR_NOT_CONNECTED);

  CHECK_U64 (destroy_or_die (server, 2000), 0);
  /* Double destroy: the second call is refused without touching freed memory.  */
  CHECK_FAILS (ws_context_destroy (server, 0, NULL), INVALID);
  CHECK_FAILS (ws_context_destroy (client, 0, NULL), INVALID);
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  recorder_free (&srv);
  recorder_free (&cli);
}

/* A client given a port where nobody listens: created fine, reports WS_ERR_IO through
   on_error and retries; sends are queued meanwhile.  Its rx_flow/close have no connection.  */
static void
client_without_server (void)
{
  recorder cli;
  ws_context *client;
  int fd;
  uint16_t port;

  /* A port that was free a moment ago and that nobody listens on: bound, not listening.  */
  port = dead_port (&fd);

  recorder_init (&cli, "client");
  client = start_client (&cli, port);
  WAIT_UNTIL (cli.errors >= 2);   /* the first attempt and at least one retry */
  CHECK_INT (cli.last_error_status, WS_ERR_IO);
  CHECK (cli.last_error_message[0] != '\0');
  CHECK_INT (cli.connects, 0);
  CHECK_FAILS (ws_rx_flow (client, 0, 0), WS_ERR_NOT_CONNECTED);
  CHECK_FAILS (ws_close_connection (client, 0, 1000, NULL), WS_ERR_NOT_CONNECTED);
  CHECK_OK (ws_send (client, 0, "queued", 6, WS_MSG_TEXT));
  /* Left unsent: reported by destroy (and counted as dropped).  */
  CHECK_U64 (destroy_or_die (client, 0), 1);
  CHECK_INT (cli.closes, 0);    /* never connected: no on_close owed */
  close (fd);
}

/* Every option string that reaches the wire (request line, Host, headers, subprotocol) refuses
   CR and LF, naming the character; a C string cannot carry a NUL (it ends it).  */
static void
wire_strings (void)
{
  ws_options *srv = ws_options_new (WS_MODE_SERVER);
  ws_options *cli = ws_options_new (WS_MODE_CLIENT);
  static const char *const bad[] = { "a\r\nX-Injected: 1", "a\rb", "a\nb", "\r\n" };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      char path[64];

      snprintf (path, sizeof path, "/%s", bad[i]);
      CHECK_FAILS (ws_options_set_address (cli, bad[i]), INVALID);
      CHECK (strstr (ws_last_error (), "CR") != NULL || strstr (ws_last_error (), "LF") != NULL);
      CHECK_FAILS (ws_options_set_address (srv, bad[i]), INVALID);
      CHECK_FAILS (ws_options_set_path (cli, path), INVALID);
      CHECK (strstr (ws_last_error (), "may not contain CR, LF or NUL") != NULL);
      CHECK_FAILS (ws_options_set_path (srv, path), INVALID);
      CHECK_FAILS (ws_options_set_protocol (cli, bad[i]), INVALID);
      CHECK_FAILS (ws_options_set_protocol (srv, bad[i]), INVALID);
      CHECK_FAILS (ws_options_add_header (cli, bad[i], "v"), INVALID);
      CHECK_FAILS (ws_options_add_header (cli, "X-A", bad[i]), INVALID);
      CHECK (strstr (ws_last_error (), "header value") != NULL);
    }
  CHECK_FAILS (ws_options_set_address (cli, "two words"), INVALID);
  CHECK_FAILS (ws_options_set_address (cli, "tab\there"), INVALID);
  /* A tab is allowed inside a header value (RFC 9110 field-value).  */
  CHECK_OK (ws_options_add_header (cli, "X-A", "a\tb"));
  CHECK_OK (ws_options_set_address (cli, "127.0.0.1"));
  ws_options_free (srv);
  ws_options_free (cli);
}

int
main (void)
{
  options_null ();
  options_values ();
  wire_strings ();
  context_null ();
  context_create ();
  connection_ids ();
  client_without_server ();
  return 0;
}
