/* echo_client: a WebSocket echo client on ws_api.h, the peer the
   Autobahn|Testsuite fuzzingserver tests.

   It follows the fuzzingserver's protocol: GET /getCaseCount (the
   server sends the number of cases as a text message), then for each
   case /runCase?case=N&agent=AGENT, echoing every message back with the
   same type until the server closes, then /updateReports?agent=AGENT so
   the suite writes its report.

   A client context reconnects by itself after a close; here every step
   is one connection, so each step uses its own context, with a backoff
   far longer than a step, and destroys it once the connection closed.

   Run `echo_client --help` for the options.  */

#define _GNU_SOURCE 1

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ws_api.h>

#define PROGRAM "echo_client"
#include "common.h"

/* What one connection (one step) went through.  */
struct step
{
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int echo;                     /* send every message back */
  int opened;
  int closed;
  int failed;                   /* an error before the connection opened */
  uint16_t close_code;
  char first_text[32];          /* the first text message (case count) */
  unsigned long long echoed, refused;
};

static int verbose;

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  struct step *s = user;

  (void) ctx;
  (void) conn;
  pthread_mutex_lock (&s->lock);
  s->opened = 1;
  pthread_cond_broadcast (&s->changed);
  pthread_mutex_unlock (&s->lock);
}

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
            ws_msg_type type, void *user)
{
  struct step *s = user;

  if (s->echo)
    {
      ws_status st = ws_send (ctx, conn, data, len, type);

      pthread_mutex_lock (&s->lock);
      if (st == WS_OK)
        s->echoed++;
      else
        s->refused++;
      pthread_mutex_unlock (&s->lock);
      if (st != WS_OK)
        {
          /* Never a silent gap in the echo: close, the case fails.  */
          fprintf (stderr, PROGRAM ": cannot echo: %s\n", ws_strerror (st));
          ws_close_connection (ctx, conn, 1011, "echo refused");
        }
      return 0;
    }
  pthread_mutex_lock (&s->lock);
  if (type == WS_MSG_TEXT && s->first_text[0] == '\0')
    snprintf (s->first_text, sizeof s->first_text, "%.*s",
              (int) (len < sizeof s->first_text ? len
                     : sizeof s->first_text - 1), (const char *) data);
  pthread_mutex_unlock (&s->lock);
  return 0;
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason,
          void *user)
{
  struct step *s = user;

  (void) ctx;
  (void) conn;
  (void) reason;
  pthread_mutex_lock (&s->lock);
  s->closed = 1;
  s->close_code = code;
  pthread_cond_broadcast (&s->changed);
  pthread_mutex_unlock (&s->lock);
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status,
          const char *message, void *user)
{
  struct step *s = user;

  (void) ctx;
  (void) conn;
  if (verbose)
    fprintf (stderr, PROGRAM ": %s: %s\n", ws_strerror (status),
             message ? message : "");
  pthread_mutex_lock (&s->lock);
  if (!s->opened)
    s->failed = 1;
  pthread_cond_broadcast (&s->changed);
  pthread_mutex_unlock (&s->lock);
}

/* Runs one connection to PATH until it closes or TIMEOUT_S passes.
   Returns 0 when it opened and closed, -1 otherwise.  */
static int
run_step (const char *host, int port, const char *path, int echo,
          unsigned timeout_s, size_t max_size, struct step *s)
{
  ws_callbacks cbs;
  ws_options *o;
  ws_context *ctx;
  ws_status st;
  struct timespec deadline;
  int rc = 0;

  memset (s, 0, sizeof *s);
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->changed, NULL);
  s->echo = echo;

  memset (&cbs, 0, sizeof cbs);
  cbs.on_connect = on_connect;
  cbs.on_receive = on_receive;
  cbs.on_close = on_close;
  cbs.on_error = on_error;
  o = ws_options_new (WS_MODE_CLIENT);
  if (!o)
    return -1;
  if ((st = ws_options_set_address (o, host)) != WS_OK
      || (st = ws_options_set_port (o, port)) != WS_OK
      || (st = ws_options_set_path (o, path)) != WS_OK
      || (st = ws_options_set_max_message_size (o, max_size)) != WS_OK
      || (st = ws_options_set_ping_interval_ms (o, 0)) != WS_OK
      /* permessage-deflate, so Autobahn's groups 12 and 13 test it. */
      || (st = ws_options_set_compression (o, 1)) != WS_OK
      /* One connection per step: the next attempt would come long
         after the step ended and the context is gone.  */
      || (st = ws_options_set_reconnect_backoff_ms (o, 3600000, 3600000))
         != WS_OK
      || (st = ws_options_set_callbacks (o, &cbs, s)) != WS_OK
      || (st = ws_context_create (o, &ctx)) != WS_OK)
    {
      fprintf (stderr, PROGRAM ": %s: %s (%s)\n", path, ws_strerror (st),
               ws_last_error ());
      ws_options_free (o);
      return -1;
    }
  ws_options_free (o);

  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_s;
  pthread_mutex_lock (&s->lock);
  while (!s->closed && !s->failed)
    if (pthread_cond_timedwait (&s->changed, &s->lock, &deadline) == ETIMEDOUT)
      break;
  if (!s->opened || !s->closed)
    {
      fprintf (stderr, PROGRAM ": %s: %s\n", path,
               !s->opened ? "could not connect"
               : "the server did not close within the time limit");
      rc = -1;
    }
  pthread_mutex_unlock (&s->lock);
  ws_context_destroy (ctx, 1000, NULL);
  pthread_cond_destroy (&s->changed);
  pthread_mutex_destroy (&s->lock);
  return rc;
}

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: " PROGRAM " [OPTION]... [HOST PORT AGENT]\n"
"A WebSocket echo client that runs every case of an Autobahn|Testsuite\n"
"fuzzingserver: it echoes each message back with the same type.\n"
"\n"
"  -a, --address=HOST            fuzzingserver host (default 127.0.0.1)\n"
"  -p, --port=PORT               fuzzingserver port (default 9001)\n"
"  -A, --agent=NAME              agent name in the report (default ws_api)\n"
"  -m, --max-message-size=BYTES  largest message (default 67108864)\n"
"  -t, --case-timeout=SECONDS    longest a case may take (default 120)\n"
"  -v, --verbose                 log every error the engine reports\n"
"  -h, --help                    print this help and exit\n"
"\n"
"Exit status: 0 when every case ran and every echo was queued, 1 if not.\n"
"The verdicts are in the suite's report, not in this program's status.\n");
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "address", required_argument, NULL, 'a' },
    { "port", required_argument, NULL, 'p' },
    { "agent", required_argument, NULL, 'A' },
    { "max-message-size", required_argument, NULL, 'm' },
    { "case-timeout", required_argument, NULL, 't' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *host = "127.0.0.1", *agent = "ws_api";
  unsigned long long port = 9001, max_size = 64ULL * 1024 * 1024;
  unsigned long long timeout_s = 120, refused = 0;
  struct step s;
  char path[512];
  long cases, i, incomplete = 0;
  int opt;

  while ((opt = getopt_long (argc, argv, "a:p:A:m:t:vh", longopts, NULL))
         != -1)
    switch (opt)
      {
      case 'a': host = optarg; break;
      case 'p':
        if (parse_range (optarg, "port", 1, 65535, &port) < 0)
          return 2;
        break;
      case 'A': agent = optarg; break;
      case 'm':
        if (parse_range (optarg, "max message size", 1, 1ULL << 31,
                         &max_size) < 0)
          return 2;
        break;
      case 't':
        if (parse_range (optarg, "case timeout", 1, 86400, &timeout_s) < 0)
          return 2;
        break;
      case 'v': verbose = 1; break;
      case 'h': usage (stdout); return 0;
      default:
        fprintf (stderr, "Try '" PROGRAM " --help'.\n");
        return 2;
      }
  /* HOST PORT AGENT, as Autobahn scripts pass them.  */
  if (argc - optind == 3)
    {
      host = argv[optind];
      if (parse_range (argv[optind + 1], "port", 1, 65535, &port) < 0)
        return 2;
      agent = argv[optind + 2];
    }
  else if (argc != optind)
    {
      fprintf (stderr, PROGRAM ": give HOST PORT AGENT, or none of them\n");
      return 2;
    }
  /* The agent goes into a URL query unescaped: keep it to safe bytes.  */
  if (agent[0] == '\0' || strspn (agent, "abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
                          != strlen (agent))
    {
      fprintf (stderr, PROGRAM ": the agent name may use letters, digits, "
               "'-', '_' and '.'\n");
      return 2;
    }

  if (run_step (host, (int) port, "/getCaseCount", 0, 30, max_size, &s) < 0)
    return 1;
  cases = strtol (s.first_text, NULL, 10);
  if (cases <= 0)
    {
      fprintf (stderr, PROGRAM ": bad case count \"%s\"\n", s.first_text);
      return 1;
    }
  fprintf (stderr, PROGRAM ": running %ld cases as agent %s\n", cases, agent);

  for (i = 1; i <= cases; i++)
    {
      snprintf (path, sizeof path, "/runCase?case=%ld&agent=%s", i, agent);
      if (run_step (host, (int) port, path, 1, (unsigned) timeout_s,
                    max_size, &s) < 0)
        incomplete++;
      refused += s.refused;
      if (verbose)
        fprintf (stderr, PROGRAM ": case %ld: echoed %llu, close code %u\n",
                 i, s.echoed, (unsigned) s.close_code);
    }

  snprintf (path, sizeof path, "/updateReports?agent=%s", agent);
  if (run_step (host, (int) port, path, 0, 60, max_size, &s) < 0)
    return 1;
  fprintf (stderr, PROGRAM ": %ld cases run, %ld incomplete, %llu echoes "
           "refused\n", cases, incomplete, refused);
  return incomplete == 0 && refused == 0 ? 0 : 1;
}
