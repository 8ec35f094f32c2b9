/* Autobahn|Testsuite peer: a WebSocket echo client on ws_api.h.

   Usage: echo_client HOST PORT AGENT

   Speaks the fuzzingserver's protocol: asks /getCaseCount, then for each
   case opens /runCase?case=N&agent=AGENT and echoes every message back,
   then asks /updateReports so the suite writes its reports.  Each step is
   one client context that is destroyed when its connection closes (a
   client context reconnects forever, and a second connection to a
   runCase URL would run the case again).  */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ws_api.h>

#define ECHO_MAX_MESSAGE (64u * 1024u * 1024u)
/* The longest case (9.x with 16 MiB messages) finishes well within this;
   a case that takes longer is a hang and fails the run.  */
#define CASE_TIMEOUT_S 120

struct step
{
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int connected;
  int closed;
  int errors;
  int echo;               /* echo messages back (runCase) */
  char text[64];          /* first text message (getCaseCount) */
  unsigned long long refused;
};

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  struct step *s = user;

  (void) ctx;
  (void) conn;
  pthread_mutex_lock (&s->lock);
  s->connected = 1;
  pthread_mutex_unlock (&s->lock);
}

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data,
            size_t len, ws_msg_type type, void *user)
{
  struct step *s = user;

  if (s->echo)
    {
      ws_status st = ws_send (ctx, conn, data, len, type);
      if (st != WS_OK)
        {
          /* Never drop an echo silently: count it and fail the case.  */
          fprintf (stderr, "echo_client: ws_send: %s\n", ws_strerror (st));
          pthread_mutex_lock (&s->lock);
          s->refused++;
          pthread_mutex_unlock (&s->lock);
          ws_close_connection (ctx, conn, 1011, "echo queue full");
        }
      return 0;
    }
  pthread_mutex_lock (&s->lock);
  if (!s->text[0] && type == WS_MSG_TEXT)
    {
      size_t n = len < sizeof s->text - 1 ? len : sizeof s->text - 1;
      memcpy (s->text, data, n);
      s->text[n] = '\0';
    }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code,
          const char *reason, void *user)
{
  struct step *s = user;

  (void) ctx;
  (void) conn;
  (void) code;
  (void) reason;
  pthread_mutex_lock (&s->lock);
  s->closed = 1;
  pthread_cond_broadcast (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status,
          const char *message, void *user)
{
  struct step *s = user;

  (void) ctx;
  (void) conn;
  fprintf (stderr, "echo_client: %s: %s\n", ws_strerror (status), message);
  pthread_mutex_lock (&s->lock);
  s->errors++;
  pthread_cond_broadcast (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

/* Runs one connection to PATH until it closes.  Returns 0 when it
   opened and closed, -1 otherwise.  */
static int
run_step (const char *host, int port, const char *path, int echo,
          char *text_out, size_t text_len, unsigned long long *refused)
{
  struct step s;
  ws_callbacks cbs;
  ws_options *o;
  ws_context *ctx;
  ws_status st;
  struct timespec deadline;
  int rc = 0;

  memset (&s, 0, sizeof s);
  pthread_mutex_init (&s.lock, NULL);
  pthread_cond_init (&s.cond, NULL);
  s.echo = echo;

  memset (&cbs, 0, sizeof cbs);
  cbs.on_connect = on_connect;
  cbs.on_receive = on_receive;
  cbs.on_close = on_close;
  cbs.on_error = on_error;

  o = ws_options_new (WS_MODE_CLIENT);
  if (!o
      || ws_options_set_address (o, host) != WS_OK
      || ws_options_set_port (o, port) != WS_OK
      || ws_options_set_path (o, path) != WS_OK
      || ws_options_set_max_message_size (o, ECHO_MAX_MESSAGE) != WS_OK
      || ws_options_set_ping_interval_ms (o, 0) != WS_OK
      /* No second connection before we destroy the context.  */
      || ws_options_set_reconnect_backoff_ms (o, 600000, 600000) != WS_OK
      || ws_options_set_callbacks (o, &cbs, &s) != WS_OK)
    {
      fprintf (stderr, "echo_client: options: %s\n", ws_last_error ());
      ws_options_free (o);
      return -1;
    }
  st = ws_context_create (o, &ctx);
  ws_options_free (o);
  if (st != WS_OK)
    {
      fprintf (stderr, "echo_client: create: %s\n", ws_last_error ());
      return -1;
    }

  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += CASE_TIMEOUT_S;
  pthread_mutex_lock (&s.lock);
  /* A failed attempt (on_error without on_connect) ends the step too:
     the backoff is long, so nothing else would happen.  */
  while (!s.closed && !(s.errors && !s.connected))
    if (pthread_cond_timedwait (&s.cond, &s.lock, &deadline) == ETIMEDOUT)
      break;
  if (!s.closed || !s.connected)
    {
      fprintf (stderr, "echo_client: %s: %s\n", path,
               s.connected ? "no close within the time limit"
                           : "could not connect");
      rc = -1;
    }
  pthread_mutex_unlock (&s.lock);

  ws_context_destroy (ctx, 1000, NULL);
  if (text_out)
    snprintf (text_out, text_len, "%s", s.text);
  if (refused)
    *refused += s.refused;
  pthread_cond_destroy (&s.cond);
  pthread_mutex_destroy (&s.lock);
  return rc;
}

int
main (int argc, char **argv)
{
  char path[512], text[64];
  unsigned long long refused = 0;
  int port, count, i, failed = 0;

  if (argc != 4)
    {
      fprintf (stderr, "usage: echo_client HOST PORT AGENT\n");
      return 2;
    }
  port = atoi (argv[2]);

  if (run_step (argv[1], port, "/getCaseCount", 0, text, sizeof text,
                NULL) != 0)
    return 1;
  count = atoi (text);
  if (count <= 0)
    {
      fprintf (stderr, "echo_client: bad case count \"%s\"\n", text);
      return 1;
    }
  fprintf (stderr, "echo_client: %d cases\n", count);

  for (i = 1; i <= count; i++)
    {
      snprintf (path, sizeof path, "/runCase?case=%d&agent=%s", i, argv[3]);
      if (run_step (argv[1], port, path, 1, NULL, 0, &refused) != 0)
        failed++;
    }

  snprintf (path, sizeof path, "/updateReports?agent=%s", argv[3]);
  if (run_step (argv[1], port, path, 0, NULL, 0, NULL) != 0)
    return 1;
  fprintf (stderr, "echo_client: %d cases run, %d did not complete, "
           "%llu echoes refused\n", count, failed, refused);
  return refused == 0 ? 0 : 1;
}
