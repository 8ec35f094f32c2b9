/* The 2016 functions given bad arguments (CR or LF in strings sent on the wire included),
   unknown handles and handles of the other kind; a port in use; handles positive and never reused; double shutdown and double disconnect
   harmless; broadcast with no client; disconnect bounded when the server never comes.  Every
   -1 must come with a ws_last_error () message.  */

#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ws_api/client.h>
#include <ws_api/server.h>

/* A call that must answer -1 with an explanation in ws_last_error ().  */
#define CHECK_FAILS(call)                                               \
  do                                                                    \
    {                                                                   \
      int r_ = (call);                                                  \
      if (r_ != -1)                                                     \
        FAIL ("%s answered %d, expected -1", #call, r_);                \
      if (ws_last_error ()[0] == '\0')                                  \
        FAIL ("%s answered -1 without a ws_last_error message", #call); \
    }                                                                   \
  while (0)

static char msg[] = "hello";
static char localhost[] = "127.0.0.1";
static char slash[] = "/";

static int
server_on (int port, int *msgqid)
{
  int service_pid = 0;

  *msgqid = 0;
  CHECK_INT (websocket_server_create (NULL, port, 0, NULL, NULL, NULL, NULL, msgqid,
                                      &service_pid), 0);
  CHECK (*msgqid > 0);
  CHECK_INT (service_pid, *msgqid);
  return service_pid;
}

static void
check_bad_arguments (int port)
{
  int q = 0, p = 0;
  static char no_slash[] = "no-slash";
  static char bad_protocol[] = "bad protocol";
  static char missing[] = "/nonexistent/ws_api-test.pem";

  CHECK_FAILS (websocket_client_create (NULL, NULL, port, slash, 0, NULL, NULL, NULL, &q, &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL, NULL,
                                        &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL, &q,
                                        NULL));
  CHECK_FAILS (websocket_client_create (NULL, localhost, 0, slash, 0, NULL, NULL, NULL, &q, &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, -1, slash, 0, NULL, NULL, NULL, &q, &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, 65536, slash, 0, NULL, NULL, NULL, &q,
                                        &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, port, slash, 3, NULL, NULL, NULL, &q,
                                        &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, port, slash, -1, NULL, NULL, NULL, &q,
                                        &p));
  CHECK_FAILS (websocket_client_create (NULL, localhost, port, no_slash, 0, NULL, NULL, NULL, &q,
                                        &p));
  CHECK_FAILS (websocket_client_create (bad_protocol, localhost, port, slash, 0, NULL, NULL,
                                        NULL, &q, &p));
  /* Strings that reach the request line or a header: CR and LF could inject headers.  */
  {
    static char crlf_address[] = "127.0.0.1\r\nX-Injected: 1";
    static char lf_path[] = "/a\nX-Injected: 1";
    static char cr_protocol[] = "p\r";

    CHECK_FAILS (websocket_client_create (NULL, crlf_address, port, slash, 0, NULL, NULL, NULL,
                                          &q, &p));
    CHECK (strstr (ws_last_error (), "CR") != NULL);
    CHECK_FAILS (websocket_client_create (NULL, localhost, port, lf_path, 0, NULL, NULL, NULL,
                                          &q, &p));
    CHECK (strstr (ws_last_error (), "LF") != NULL);
    CHECK_FAILS (websocket_client_create (cr_protocol, localhost, port, slash, 0, NULL, NULL,
                                          NULL, &q, &p));
    CHECK_FAILS (websocket_server_create (cr_protocol, 0, 0, NULL, NULL, NULL, NULL, &q, &p));
  }
  /* TLS files that cannot be loaded fail at once.  */
  CHECK_FAILS (websocket_client_create (NULL, localhost, port, slash, 1, missing, missing, NULL,
                                        &q, &p));
  CHECK_FAILS (websocket_server_create (NULL, 0, 1, missing, missing, NULL, NULL, &q, &p));

  CHECK_FAILS (websocket_server_create (NULL, -1, 0, NULL, NULL, NULL, NULL, &q, &p));
  CHECK_FAILS (websocket_server_create (NULL, 65536, 0, NULL, NULL, NULL, NULL, &q, &p));
  CHECK_FAILS (websocket_server_create (NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, &p));
  CHECK_FAILS (websocket_server_create (NULL, 0, 0, NULL, NULL, NULL, NULL, &q, NULL));
  CHECK_FAILS (websocket_server_create (bad_protocol, 0, 0, NULL, NULL, NULL, NULL, &q, &p));
}

static void
check_unknown_handles (void)
{
  static const int unknown[] = { 0, -1, -12345, 999999, 2147483647 };
  size_t i;

  for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    {
      CHECK_FAILS (websocket_client_send_msg (msg, unknown[i], 0));
      CHECK_FAILS (websocket_server_broadcast_msg (msg, unknown[i], 0));
      CHECK_FAILS (ws_legacy_local_port (unknown[i]));
      /* void: must simply do nothing.  */
      websocket_client_disconnect (unknown[i]);
      websocket_server_shutdown (unknown[i]);
    }
}

/* A client created before its server is up connects once the server is there, and the
   messages it queued meanwhile arrive (2016: it never connected).  */
static void
check_client_before_server (void)
{
  int hold_fd, c, p, s, q, fd = -1;
  uint16_t port = dead_port (&hold_fd);
  char buf[64];
  size_t got = 0;
  static const char expected[] = "one\ntwo\nthree\n";
  static char one[] = "one", two[] = "two", three[] = "three";

  CHECK_INT (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL, &c, &p),
             0);
  CHECK_INT (websocket_client_send_msg (one, c, port), 0);
  CHECK_INT (websocket_client_send_msg (two, c, port), 0);
  CHECK_INT (websocket_client_send_msg (three, c, port), 0);
  /* The port was held bound (not listening) so that nothing else took it; hand it over.  */
  close (hold_fd);
  CHECK_INT (websocket_server_create (NULL, port, 0, NULL, NULL, NULL, &fd, &q, &s), 0);
  while (got < strlen (expected))
    {
      ssize_t n = read (fd, buf + got, sizeof buf - got);
      CHECK (n > 0);
      got += (size_t) n;
    }
  CHECK_INT (got, strlen (expected));
  CHECK (memcmp (buf, expected, got) == 0);
  websocket_client_disconnect (p);
  websocket_server_shutdown (s);
  CHECK_INT (read (fd, buf, sizeof buf), 0);
  close (fd);
}

/* Disconnect waits for the queue at most 5 s when the server never answers.  */
static void
check_disconnect_bounded (void)
{
  int hold_fd, c, p;
  uint16_t port = dead_port (&hold_fd);
  uint64_t t0, elapsed;

  CHECK_INT (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL, &c, &p),
             0);
  CHECK_INT (websocket_client_send_msg (msg, c, port), 0);
  t0 = test_now_ms ();
  websocket_client_disconnect (p);
  elapsed = test_now_ms () - t0;
  close (hold_fd);
  if (elapsed < 4500 || elapsed > 5000 + 10000ull * test_time_factor ())
    FAIL ("disconnect with an undeliverable message took %" PRIu64 " ms, expected about 5 s",
          elapsed);
  CHECK_FAILS (websocket_client_send_msg (msg, c, port));
}

int
main (void)
{
  int q1, s1, q2, s2, port, c, p, c2, p2;

  s1 = server_on (0, &q1);
  port = ws_legacy_local_port (s1);
  CHECK (port > 0);

  /* The port is in use: -1 at once (2016: success, then 100% CPU).  */
  q2 = s2 = 4242;
  CHECK_FAILS (websocket_server_create (NULL, port, 0, NULL, NULL, NULL, NULL, &q2, &s2));

  check_bad_arguments (port);
  check_unknown_handles ();

  /* Broadcast with no client connected succeeds.  */
  CHECK_INT (websocket_server_broadcast_msg (msg, q1, port), 0);

  CHECK_INT (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL, &c, &p),
             0);
  CHECK (c > 0);
  CHECK_INT (p, c);
  CHECK (c != q1);

  /* A handle of the other kind is refused, and closing it through the other header does
     nothing: both endpoints keep working.  */
  CHECK_FAILS (websocket_client_send_msg (msg, q1, port));
  CHECK_FAILS (websocket_server_broadcast_msg (msg, c, port));
  CHECK_FAILS (ws_legacy_local_port (c));
  websocket_client_disconnect (s1);
  websocket_server_shutdown (p);
  CHECK_INT (ws_legacy_local_port (s1), port);
  CHECK_INT (websocket_server_broadcast_msg (msg, q1, port), 0);
  CHECK_INT (websocket_client_send_msg (msg, c, port), 0);

  /* Double disconnect: the second does nothing; the handle is gone.  */
  websocket_client_disconnect (p);
  websocket_client_disconnect (p);
  CHECK_FAILS (websocket_client_send_msg (msg, c, port));

  /* Double shutdown: the second does nothing; the handle is gone and the port is free.  */
  websocket_server_shutdown (s1);
  websocket_server_shutdown (s1);
  CHECK_FAILS (websocket_server_broadcast_msg (msg, q1, port));
  CHECK_FAILS (ws_legacy_local_port (s1));

  /* Handles are never reused: new ones are new numbers.  */
  s2 = server_on (port, &q2);
  CHECK (s2 != s1 && s2 != c);
  CHECK_INT (websocket_client_create (NULL, localhost, port, slash, 0, NULL, NULL, NULL, &c2,
                                      &p2), 0);
  CHECK (c2 != c && c2 != s1 && c2 != s2);
  websocket_client_disconnect (p2);
  websocket_server_shutdown (s2);

  check_client_before_server ();
  check_disconnect_bounded ();

  printf ("ok\n");
  return 0;
}
