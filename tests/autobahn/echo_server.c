/* Autobahn|Testsuite peer: a WebSocket echo server on ws_api.h.

   Usage: echo_server [PORT]   (default 0: any free port)

   Binds 127.0.0.1 only, prints "PORT <n>" on stdout once listening and
   echoes every message back to its sender with the same type.  It runs
   until its standard input reaches end of file (so the script that
   started it stops it by closing the pipe, and an orphan cannot
   survive its parent), then destroys the context.  */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ws_api.h>

/* Autobahn's case 9.1.6 sends a 16 MiB message, exactly the default
   limit; leave room so the limit is never what a case measures.  */
#define ECHO_MAX_MESSAGE (64u * 1024u * 1024u)

static unsigned long long echoed;
static unsigned long long refused;

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data,
            size_t len, ws_msg_type type, void *user)
{
  ws_status st;

  (void) user;
  st = ws_send (ctx, conn, data, len, type);
  if (st == WS_OK)
    {
      echoed++;
      return 0;
    }
  /* An echo that cannot be queued must not vanish silently: say so and
     end the connection, so the suite reports the case as failed.  */
  refused++;
  fprintf (stderr, "echo_server: ws_send on %llu: %s\n",
           (unsigned long long) conn, ws_strerror (st));
  ws_close_connection (ctx, conn, 1011, "echo queue full");
  return 0;
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status,
          const char *message, void *user)
{
  (void) ctx;
  (void) user;
  /* Protocol violations are the point of many cases; keep them on
     stderr for the log, they are not failures of this program.  */
  fprintf (stderr, "echo_server: conn %llu: %s: %s\n",
           (unsigned long long) conn, ws_strerror (status), message);
}

static void
die (const char *what, ws_status st)
{
  fprintf (stderr, "echo_server: %s: %s (%s)\n", what, ws_strerror (st),
           ws_last_error ());
  exit (1);
}

int
main (int argc, char **argv)
{
  ws_callbacks cbs;
  ws_options *o;
  ws_context *ctx;
  ws_status st;
  uint64_t unsent = 0;
  char buf[256];
  int port = 0;

  if (argc > 1)
    port = atoi (argv[1]);

  memset (&cbs, 0, sizeof cbs);
  cbs.on_receive = on_receive;
  cbs.on_error = on_error;

  o = ws_options_new (WS_MODE_SERVER);
  if (!o)
    die ("ws_options_new", WS_ERR_INTERNAL);
  if ((st = ws_options_set_address (o, "127.0.0.1")) != WS_OK
      || (st = ws_options_set_port (o, port)) != WS_OK
      || (st = ws_options_set_max_message_size (o, ECHO_MAX_MESSAGE)) != WS_OK
      /* The suite's own pings are what is tested; ours would only add
         frames to its transcripts.  */
      || (st = ws_options_set_ping_interval_ms (o, 0)) != WS_OK
      || (st = ws_options_set_callbacks (o, &cbs, NULL)) != WS_OK)
    die ("options", st);
  st = ws_context_create (o, &ctx);
  ws_options_free (o);
  if (st != WS_OK)
    die ("ws_context_create", st);

  printf ("PORT %u\n", (unsigned) ws_local_port (ctx));
  fflush (stdout);

  /* Block until the parent closes our stdin.  */
  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
      if (n == 0)
        break;
      if (n < 0 && errno != EINTR)
        break;
    }

  st = ws_context_destroy (ctx, 2000, &unsent);
  fprintf (stderr, "echo_server: echoed %llu, refused %llu, unsent %llu\n",
           echoed, refused, (unsigned long long) unsent);
  return st == WS_OK && refused == 0 ? 0 : 1;
}
