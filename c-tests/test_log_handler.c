/* ws_set_log_handler: diagnostics (a refused connection at least) reach the handler with its
   user pointer, a valid level and a non-empty text; nothing less severe than the minimum is
   delivered; NULL removes the handler; and with no handler the library writes nothing to
   stdout or stderr.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

static struct
{
  int calls;
  int bad_user, bad_level, bad_text, below_min;
  int min;
  char last[256];
} g;

static int token;

static void
handler (ws_log_level lvl, const char *msg, void *user)
{
  test_lock ();
  g.calls++;
  if (user != &token)
    g.bad_user++;
  if (lvl < WS_LOG_ERROR || lvl > WS_LOG_DEBUG)
    g.bad_level++;
  if ((int) lvl > g.min)
    g.below_min++;
  if (msg == NULL || msg[0] == '\0')
    g.bad_text++;
  else
    snprintf (g.last, sizeof g.last, "%s", msg);
  test_signal ();
  test_unlock ();
}

/* Waits for N more failed connection attempts of the client recorded in R.  */
static void
more_errors (recorder *r, int n)
{
  int base;

  test_lock ();
  base = r->errors;
  test_unlock ();
  WAIT_UNTIL (r->errors >= base + n);
}

int
main (void)
{
  recorder cli, srv, cli2;
  ws_context *client, *server, *client2;
  int fd, saved_out, saved_err, calls, close_code;
  uint16_t port = dead_port (&fd);
  FILE *capture;
  long size;
  uint8_t big[2048];

  /* 1. Minimum WARN: a refused connection is worth a warning (or an error).  */
  g.min = WS_LOG_WARN;
  ws_set_log_handler (handler, &token, WS_LOG_WARN);
  recorder_init (&cli, "client");
  client = start_client (&cli, port);
  more_errors (&cli, 2);
  WAIT_UNTIL (g.calls >= 1);
  CHECK_INT (g.bad_user + g.bad_level + g.bad_text + g.below_min, 0);

  /* 2. Minimum ERROR: the same refusals (warnings at most) are filtered out; whatever
     arrives is an error.  A log call already running when the minimum changed ends before
     the I/O thread reports its next on_error, so the check starts after one.  */
  ws_set_log_handler (handler, &token, WS_LOG_ERROR);
  more_errors (&cli, 1);
  test_lock ();
  g.min = WS_LOG_ERROR;
  test_unlock ();
  more_errors (&cli, 3);
  test_lock ();
  CHECK_INT (g.below_min, 0);
  test_unlock ();

  /* 3. An out-of-range minimum is clamped to DEBUG: everything arrives, warnings included. */
  test_lock ();
  g.min = WS_LOG_DEBUG;
  calls = g.calls;
  test_unlock ();
  ws_set_log_handler (handler, &token, (ws_log_level) 99);
  more_errors (&cli, 2);
  WAIT_UNTIL (g.calls > calls);

  /* 4. NULL removes the handler: no call after the removal (allow one turn for a call that
     was already running).  */
  ws_set_log_handler (NULL, NULL, WS_LOG_DEBUG);
  more_errors (&cli, 1);
  test_lock ();
  calls = g.calls;
  test_unlock ();
  more_errors (&cli, 3);
  test_lock ();
  CHECK_INT (g.calls, calls);
  test_unlock ();
  CHECK_INT (g.bad_user + g.bad_level + g.bad_text + g.below_min, 0);

  /* 5. No handler: the library prints nothing, whatever happens (refused connections, a
     round trip, a protocol violation, closes).  */
  capture = tmpfile ();
  CHECK (capture != NULL);
  fflush (stdout);
  fflush (stderr);
  saved_out = dup (1);
  saved_err = dup (2);
  CHECK (saved_out >= 0 && saved_err >= 0);
  CHECK (dup2 (fileno (capture), 1) == 1);
  CHECK (dup2 (fileno (capture), 2) == 2);

  recorder_init (&srv, "server");
  recorder_init (&cli2, "client 2");
  {
    ws_options *o = server_options (&srv);

    CHECK_OK (ws_options_set_max_message_size (o, 1024));
    server = create_or_die (o, &srv);
  }
  client2 = start_client (&cli2, ws_local_port (server));
  WAIT_UNTIL (cli2.connects == 1);
  CHECK_OK (ws_send (client2, 0, "hello", 5, WS_MSG_TEXT));
  WAIT_UNTIL (srv.receives == 1);
  memset (big, 'b', sizeof big);
  CHECK_OK (ws_send (client2, 0, big, sizeof big, WS_MSG_BINARY));   /* above the server's limit */
  WAIT_UNTIL (cli2.closes >= 1);
  test_lock ();
  close_code = cli2.last_close_code;
  test_unlock ();
  more_errors (&cli, 2);
  CHECK_U64 (destroy_or_die (client2, 1000), 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);
  destroy_or_die (client, 0);

  fflush (stdout);
  fflush (stderr);
  CHECK (dup2 (saved_out, 1) == 1);
  CHECK (dup2 (saved_err, 2) == 2);
  close (saved_out);
  close (saved_err);
  CHECK (fseek (capture, 0, SEEK_END) == 0);
  size = ftell (capture);
  if (size != 0)
    {
      char buf[512];
      size_t n;

      rewind (capture);
      n = fread (buf, 1, sizeof buf - 1, capture);
      buf[n] = '\0';
      FAIL ("the library wrote %ld bytes to stdout/stderr: %s", size, buf);
    }
  fclose (capture);
  close (fd);
  CHECK_INT (close_code, 1009);
  return 0;
}
