/* Access control through the C API, seen by an attacker: the setters refuse what cannot be
   safe ("null" origin, origins with a path, tokens with spaces or CR LF, client mode); a
   default server refuses a cross-origin page with 403 and lets in its own page and
   non-browser clients; a token-protected server answers 401 with WWW-Authenticate and lets in
   the header and the access_token forms; the handshake filter reads path, query, origin,
   peer and headers (copied during the call: the strings die when it returns) and refuses
   with its own status, an out-of-range answer becoming 500.  Every refusal is a complete HTTP
   answer followed by the close, counted in handshakes_refused.  */

#define _GNU_SOURCE /* strcasestr */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN "t0ken-of_the.day~+/="

/* What the filter saw of the last request, and what it answers.  */
static struct
{
  int calls;
  char path[64];
  char query[128];
  char origin[128];
  char agent[64];
  char ip[46];
  uint16_t port;
  int null_checks_ok;
  int answer;
  ws_context *ctx;              /* the server, once created */
  ws_status destroy_status;     /* what ws_context_destroy answered inside the filter */
} seen;

static void
copy (char *dst, size_t cap, const char *src)
{
  snprintf (dst, cap, "%s", src != NULL ? src : "(null)");
}

static int
filter (const ws_handshake_request *req, void *user)
{
  int answer;

  CHECK (user == &seen);
  test_lock ();
  seen.calls++;
  copy (seen.path, sizeof seen.path, ws_request_path (req));
  copy (seen.query, sizeof seen.query, ws_request_query (req));
  copy (seen.origin, sizeof seen.origin, ws_request_origin (req));
  copy (seen.agent, sizeof seen.agent, ws_request_header (req, "user-AGENT"));
  if (ws_request_peer_address (req, seen.ip, sizeof seen.ip, &seen.port) != WS_OK)
    seen.ip[0] = '\0';
  {
    char small[4];

    seen.null_checks_ok
      = ws_request_header (req, "X-Absent") == NULL
        && ws_request_header (req, NULL) == NULL
        && ws_request_path (NULL) == NULL
        && ws_request_peer_address (req, small, sizeof small, NULL) == WS_ERR_INVALID_ARGUMENT
        && ws_request_peer_address (NULL, seen.ip, sizeof seen.ip, NULL)
             == WS_ERR_INVALID_ARGUMENT;
  }
  /* Destroying the context from its own I/O thread would free it under the running
     handshake: refused like from a callback.  */
  if (seen.ctx != NULL)
    seen.destroy_status = ws_context_destroy (seen.ctx, 0, NULL);
  answer = seen.answer;
  test_signal ();
  test_unlock ();
  return answer;
}

/* Sends an upgrade request for TARGET with the standard headers plus EXTRA (CRLF-terminated
   lines, may be ""), reads the answer into RESP and answers its status.  A refusal must carry
   Content-Length and Connection: close and be followed by the close.  */
static int
request (uint16_t port, const char *target, const char *extra, char *resp, size_t cap)
{
  char req[2048];
  int fd = raw_connect (port), len, eof, code = 0;

  len = snprintf (req, sizeof req,
                  "GET %s HTTP/1.1\r\n"
                  "Host: 127.0.0.1:%u\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "%s\r\n", target, (unsigned) port, extra);
  CHECK (len > 0 && (size_t) len < sizeof req);
  raw_write (fd, req, (size_t) len);
  raw_read_until (fd, resp, cap, "\r\n\r\n", TEST_WAIT_MS, &eof);
  if (sscanf (resp, "HTTP/1.1 %d", &code) != 1)
    FAIL ("no HTTP status in \"%.80s\"", resp);
  if (code != 101)
    {
      size_t head = strlen (resp);

      raw_read_until (fd, resp + head, cap - head, NULL, TEST_WAIT_MS, &eof);
      if (!eof)
        FAIL ("the server did not close after %d: \"%.200s\"", code, resp);
      CHECK (strcasestr (resp, "\r\nContent-Length: ") != NULL);
      CHECK (strcasestr (resp, "\r\nConnection: close\r\n") != NULL);
    }
  close (fd);
  return code;
}

static void
setters_refuse_unsafe_values (void)
{
  ws_options *o = ws_options_new (WS_MODE_SERVER);
  ws_options *c = ws_options_new (WS_MODE_CLIENT);
  const char *bad_origins[] = { "null", "NULL", "https://x.org/", "https://x.org/logs",
                                "x.org", "https://", "https://x.org:99999",
                                "https://x.org\r\nX-Injected: 1", "" };
  const char *bad_tokens[] = { "", "two words", "line\r\nX-Injected: 1", "==", "quote\"" };
  size_t i;

  CHECK (o != NULL && c != NULL);
  for (i = 0; i < sizeof bad_origins / sizeof bad_origins[0]; i++)
    CHECK_STATUS (ws_options_add_allowed_origin (o, bad_origins[i]), WS_ERR_INVALID_ARGUMENT);
  CHECK (ws_last_error ()[0] != '\0');
  CHECK_STATUS (ws_options_add_allowed_origin (o, NULL), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_add_allowed_origin (NULL, "*"), WS_ERR_INVALID_ARGUMENT);
  for (i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++)
    CHECK_STATUS (ws_options_add_bearer_token (o, bad_tokens[i]), WS_ERR_INVALID_ARGUMENT);
  /* The message names the rule, never the token.  */
  CHECK (strstr (ws_last_error (), "quote") == NULL);
  CHECK_STATUS (ws_options_add_bearer_token (o, NULL), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_options_add_allowed_origin (o, "https://Logs.Example.org:8443"));
  CHECK_OK (ws_options_add_allowed_origin (o, "*"));
  CHECK_OK (ws_options_add_bearer_token (o, TOKEN));
  CHECK_OK (ws_options_set_handshake_filter (o, filter, &seen));
  CHECK_OK (ws_options_set_handshake_filter (o, NULL, NULL));

  /* Server-only options.  */
  CHECK_STATUS (ws_options_add_allowed_origin (c, "*"), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_add_bearer_token (c, TOKEN), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_handshake_filter (c, filter, NULL), WS_ERR_INVALID_ARGUMENT);
  ws_options_free (o);
  ws_options_free (c);
}

static void
default_origin_check (void)
{
  recorder srv;
  ws_context *server;
  uint16_t port;
  char resp[4096], hdr[256];

  recorder_init (&srv, "server");
  server = create_or_die (server_options (&srv), &srv);
  port = ws_local_port (server);

  /* A page of another site: cross-site WebSocket hijacking.  */
  CHECK_INT (request (port, "/", "Origin: http://evil.example\r\n", resp, sizeof resp), 403);
  CHECK (strncmp (resp, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
  CHECK_INT (request (port, "/", "Origin: null\r\n", resp, sizeof resp), 403);
  snprintf (hdr, sizeof hdr, "Origin: http://127.0.0.1:%u/index.html\r\n", (unsigned) port);
  CHECK_INT (request (port, "/", hdr, resp, sizeof resp), 403);
  snprintf (hdr, sizeof hdr, "Origin: http://127.0.0.1:%u\r\n", (unsigned) (port ^ 1));
  CHECK_INT (request (port, "/", hdr, resp, sizeof resp), 403);
  CHECK_U64 (stats_of (server).handshakes_refused, 4);

  /* Its own page, and a client that sends no Origin.  */
  snprintf (hdr, sizeof hdr, "Origin: http://127.0.0.1:%u\r\n", (unsigned) port);
  CHECK_INT (request (port, "/", hdr, resp, sizeof resp), 101);
  CHECK_INT (request (port, "/", "", resp, sizeof resp), 101);
  WAIT_UNTIL (srv.connects == 2);
  WAIT_UNTIL (srv.closes == 2);
  CHECK_U64 (stats_of (server).handshakes_refused, 4);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  recorder_free (&srv);
}

static void
token_origin_and_filter (void)
{
  recorder srv, good, bad;
  ws_options *o;
  ws_context *server, *c1, *c2;
  uint16_t port;
  char resp[4096];

  recorder_init (&srv, "server");
  o = server_options (&srv);
  CHECK_OK (ws_options_set_path (o, "/logs"));
  CHECK_OK (ws_options_add_allowed_origin (o, "https://app.example"));
  CHECK_OK (ws_options_add_bearer_token (o, "an-old-token"));
  CHECK_OK (ws_options_add_bearer_token (o, TOKEN));
  CHECK_OK (ws_options_set_handshake_filter (o, filter, &seen));
  server = create_or_die (o, &srv);
  port = ws_local_port (server);
  test_lock ();
  seen.ctx = server;
  seen.destroy_status = WS_OK;
  test_unlock ();

  /* No token: 401 with the challenge, the filter is not asked.  */
  CHECK_INT (request (port, "/logs", "", resp, sizeof resp), 401);
  CHECK (strstr (resp, "\r\nWWW-Authenticate: Bearer\r\n") != NULL);
  /* Wrong token: invalid_token; token in the wrong form: no token.  */
  CHECK_INT (request (port, "/logs", "Authorization: Bearer guess\r\n", resp, sizeof resp), 401);
  CHECK (strstr (resp, "\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\n") != NULL);
  CHECK (strstr (resp, "guess") == NULL);
  CHECK_INT (request (port, "/logs", "Authorization: " TOKEN "\r\n", resp, sizeof resp), 401);
  CHECK_INT (request (port, "/logs", "Authorization: Basic " TOKEN "\r\n", resp, sizeof resp),
             401);
  /* Twice: a bad request.  */
  CHECK_INT (request (port, "/logs?access_token=an-old-token",
                      "Authorization: Bearer " TOKEN "\r\n", resp, sizeof resp), 400);
  CHECK (strstr (resp, "error=\"invalid_request\"") != NULL);
  CHECK_INT (request (port, "/logs",
                      "Authorization: Bearer " TOKEN "\r\nAuthorization: Bearer guess\r\n",
                      resp, sizeof resp), 400);
  /* A good token from an origin that is not listed: 403 comes first.  */
  CHECK_INT (request (port, "/logs", "Origin: https://evil.example\r\n"
                      "Authorization: Bearer " TOKEN "\r\n", resp, sizeof resp), 403);
  test_lock ();
  CHECK_INT (seen.calls, 0);
  test_unlock ();

  /* Authorised: the filter decides, and sees everything.  */
  test_lock ();
  seen.answer = 451;
  test_unlock ();
  CHECK_INT (request (port, "/logs?since=1&access_token=an-old-token",
                      "Origin: https://APP.example\r\nUser-Agent: probe/1\r\n",
                      resp, sizeof resp), 451);
  test_lock ();
  CHECK_INT (seen.calls, 1);
  CHECK (strcmp (seen.path, "/logs") == 0);
  CHECK (strcmp (seen.query, "since=1&access_token=an-old-token") == 0);
  CHECK (strcmp (seen.origin, "https://APP.example") == 0);
  CHECK (strcmp (seen.agent, "probe/1") == 0);
  CHECK (strcmp (seen.ip, "127.0.0.1") == 0);
  CHECK (seen.port != 0 && seen.port != port);
  CHECK (seen.null_checks_ok);
  CHECK_INT (seen.destroy_status, WS_ERR_INVALID_ARGUMENT);
  seen.answer = 42;             /* not an HTTP refusal status: 500 */
  test_unlock ();
  CHECK_INT (request (port, "/logs", "Authorization: bearer " TOKEN "\r\n", resp, sizeof resp),
             500);
  test_lock ();
  CHECK (strcmp (seen.origin, "(null)") == 0);
  seen.answer = 0;
  test_unlock ();
  CHECK_U64 (stats_of (server).handshakes_refused, 9);
  CHECK_INT (srv.connects, 0);

  /* Our own client with the header gets in; one with a wrong token is told why.  */
  recorder_init (&good, "good");
  recorder_init (&bad, "bad");
  o = client_options (&good, port);
  CHECK_OK (ws_options_set_path (o, "/logs"));
  CHECK_OK (ws_options_add_header (o, "Authorization", "Bearer " TOKEN));
  c1 = create_or_die (o, &good);
  o = client_options (&bad, port);
  CHECK_OK (ws_options_set_path (o, "/logs"));
  CHECK_OK (ws_options_add_header (o, "Authorization", "Bearer guess"));
  c2 = create_or_die (o, &bad);
  WAIT_UNTIL (good.connects == 1 && srv.connects == 1);
  WAIT_UNTIL (bad.errors >= 1);
  test_lock ();
  CHECK (strstr (bad.last_error_message, "401") != NULL);
  test_unlock ();
  CHECK_OK (ws_send (c1, 0, "x", 1, WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == 1);
  destroy_or_die (c2, 0);
  CHECK_U64 (destroy_or_die (c1, 1000), 0);
  CHECK_INT (bad.connects, 0);
  test_lock ();
  seen.ctx = NULL;
  test_unlock ();
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  CHECK_INT (srv.connects, 1);
  recorder_free (&good);
  recorder_free (&bad);
  recorder_free (&srv);
}

int
main (void)
{
  setters_refuse_unsafe_values ();
  default_origin_check ();
  token_origin_and_filter ();
  printf ("test_access: ok\n");
  return 0;
}
