/* ws_log_client: a WebSocket log client on ws_api.h.

   It sends every line read from standard input (or N generated test
   lines with --count) to a WebSocket server, prints every message the
   server sends back (so it is also a subscriber: --subscribe only
   listens), shows connection state changes and backpressure, survives
   server restarts (the library reconnects with backoff and keeps what
   was queued), and prints its counters at exit.

   Run `ws_log_client --help` for the options.

   Output: messages received on standard output, one per line,
   "TIMESTAMP < TEXT" (or just TEXT with --raw); state changes, waits and
   counters on standard error, "TIMESTAMP * ...".

   --subscribe asks the server for replay (docs/replay.md): it connects
   with ?since=<number of the last line it printed> (0 the first time:
   everything the server holds), prints each line as "#NUMBER TEXT"
   (without the number with --raw), and
   when the connection is lost it makes a new connection itself after a
   backoff (0.5 s doubling to 10 s), asking for what it missed; the
   server's metadata message says how many lines it no longer held.  */

#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ws_api.h>

#define PROGRAM "ws_log_client"
#include "common.h"

struct client
{
  pthread_mutex_t lock;
  unsigned long long received;
  unsigned long long max_receive;       /* 0: no limit */
  int quiet;
  int raw;
  /* --subscribe: replay state (under lock).  */
  int subscribe;
  int meta_pending;             /* the connection's first message is due */
  int numbered;                 /* the server sent replay metadata */
  unsigned long long next_seq;  /* number of the next line */
  unsigned long long last_seq;  /* number of the last line printed */
};

/* The replay metadata message's start (docs/replay.md).  */
#define REPLAY_META "{\"ws_api\":\"replay\","

/* --subscribe: set by on_close / on_error, the main loop then makes a new
   connection asking for replay.  */
static atomic_int conn_lost;

/* Set by on_receive (I/O thread) when --max-receive is reached.  */
static atomic_int receive_done;
/* Set before the context is destroyed: a close then is the end, not a
   reason to reconnect.  */
static atomic_int stopping;

/* A state line on standard error (the data stays alone on stdout).  */
static void
note (const char *fmt, ...)
{
  va_list ap;

  flockfile (stderr);
  print_timestamp (stderr);
  fputs ("* ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  funlockfile (stderr);
}

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  struct client *c = user;
  char ip[48];                  /* 46 always suffice (INET6_ADDRSTRLEN) */
  uint16_t port = 0;

  pthread_mutex_lock (&c->lock);
  c->meta_pending = c->subscribe;
  pthread_mutex_unlock (&c->lock);
  if (c->quiet)
    return;
  if (ws_peer_address (ctx, conn, ip, sizeof ip, &port) == WS_OK)
    note ("connected to %s port %u (connection #%" PRIu64 ")", ip,
          (unsigned) port, conn);
  else
    note ("connected (connection #%" PRIu64 ")", conn);
}

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
            ws_msg_type type, void *user)
{
  struct client *c = user;
  unsigned long long n, seq = 0, first, missed;
  int numbered;
  size_t i;

  (void) ctx;
  (void) conn;
  pthread_mutex_lock (&c->lock);
  if (c->meta_pending)
    {
      char meta[128];

      c->meta_pending = 0;
      c->numbered = 0;
      /* The replay metadata: {"ws_api":"replay","first":F,"missed":M}.  */
      if (type == WS_MSG_TEXT && len < sizeof meta
          && len > strlen (REPLAY_META)
          && memcmp (data, REPLAY_META, strlen (REPLAY_META)) == 0)
        {
          memcpy (meta, data, len);
          meta[len] = '\0';
          if (sscanf (meta, REPLAY_META "\"first\":%llu,\"missed\":%llu",
                      &first, &missed) == 2)
            {
              c->numbered = 1;
              c->next_seq = first;
              pthread_mutex_unlock (&c->lock);
              if (missed)
                note ("replay: the server no longer held %llu lines after "
                      "#%llu; going on from #%llu", missed,
                      first - missed - 1, first);
              else if (!c->quiet)
                note ("replay: going on from #%llu, nothing missed", first);
              return 0;
            }
        }
    }
  numbered = c->numbered;
  if (numbered)
    {
      seq = c->last_seq = c->next_seq++;
    }
  n = ++c->received;
  pthread_mutex_unlock (&c->lock);

  flockfile (stdout);
  if (!c->raw)
    {
      print_timestamp (stdout);
      fputs ("< ", stdout);
    }
  if (numbered && !c->raw)
    fprintf (stdout, "#%llu ", seq);
  if (type == WS_MSG_BINARY)
    fprintf (stdout, "(binary, %zu bytes) ", len);
  /* Control characters escaped: one message is one line.  */
  for (i = 0; i < len; i++)
    {
      if (data[i] == '\\')
        fputs ("\\\\", stdout);
      else if (data[i] < 0x20 || data[i] == 0x7f)
        fprintf (stdout, "\\x%02x", data[i]);
      else
        fputc (data[i], stdout);
    }
  fputc ('\n', stdout);
  funlockfile (stdout);

  if (c->max_receive && n == c->max_receive)
    {
      receive_done = 1;
      wake ('m');
    }
  return 0;
}

static void
on_writable (ws_context *ctx, ws_conn_id conn, void *user)
{
  (void) ctx;
  (void) conn;
  (void) user;
  wake ('w');
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason,
          void *user)
{
  struct client *c = user;

  (void) ctx;
  if (c->subscribe && !stopping)
    {
      conn_lost = 1;
      wake ('c');
    }
  if (c->quiet)
    return;
  note ("disconnected (connection #%" PRIu64 ", code %u%s%s%s)%s", conn,
        (unsigned) code, reason && *reason ? " \"" : "",
        reason && *reason ? reason : "", reason && *reason ? "\"" : "",
        stopping ? ""
        : c->subscribe ? ": reconnecting with since after a backoff"
        : ": reconnecting with backoff, unsent lines stay queued");
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status,
          const char *message, void *user)
{
  struct client *c = user;

  (void) ctx;
  /* --subscribe: a failed attempt too makes the main loop try again.  */
  if (c->subscribe && !stopping)
    {
      conn_lost = 1;
      wake ('c');
    }
  if (!c->quiet)
    note ("error (connection #%" PRIu64 "): %s: %s", conn,
          ws_strerror (status), message ? message : "");
}

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: " PROGRAM " [OPTION]...\n"
"A WebSocket log client: sends each line of standard input (or N generated\n"
"test lines) to a server and prints what the server sends.  It reconnects\n"
"by itself when the server goes away and sends what was queued meanwhile.\n"
"\n"
"  -a, --address=HOST     server host name or address (default 127.0.0.1)\n"
"  -p, --port=PORT        server port (default 8080)\n"
"  -P, --path=PATH        request path (default /)\n"
"  -r, --protocol=NAME    Sec-WebSocket-Protocol to ask for (default: none)\n"
"  -H, --header='N: V'    extra handshake header (repeatable)\n"
"  -t, --tls              connect with TLS (wss://)\n"
"      --cacert=FILE      trust the server certificates this CA signed\n"
"      --insecure         accept a server certificate that cannot be\n"
"                         verified (self-signed)\n"
"  -c, --cert=FILE        PEM client certificate\n"
"  -k, --key=FILE         PEM key of the client certificate\n"
"  -n, --count=N          send N generated syslog-style test lines instead\n"
"                         of reading standard input\n"
"  -i, --interval=MS      wait MS milliseconds between lines (default 0)\n"
"      --queue=N          messages the send queue holds (default 65536)\n"
"  -s, --subscribe        send nothing: print what the server broadcasts,\n"
"                         numbered; on a lost connection reconnect with\n"
"                         ?since=<last number> (replay, docs/replay.md)\n"
"  -m, --max-receive=N    stop after receiving N messages\n"
"      --drain=MS         at exit, wait up to MS for queued lines to be\n"
"                         sent (default 5000)\n"
"      --raw              print received messages without a timestamp\n"
"  -q, --quiet            no connection state lines\n"
"  -h, --help             print this help and exit\n"
"\n"
"Exit status: 0 when every line was sent (and, with --max-receive, that\n"
"many messages arrived), 1 when lines were left unsent or another\n"
"failure happened, 2 for a usage error.  Ctrl-C stops reading and\n"
"drains the queue like the end of input.\n"
"\n"
"Examples:\n"
"  logger -s hello 2>&1 | " PROGRAM " -p 8080\n"
"  " PROGRAM " -p 8080 --count 1000            # 1000 test lines\n"
"  " PROGRAM " -p 8080 --subscribe             # print live lines\n");
}

/* Queues one line, waiting through backpressure: a full queue answers
   WS_ERR_QUEUE_FULL and queues nothing, so we ask for on_writable and
   retry when it fires.  Returns 0 when queued, -1 when it cannot be
   (stop requested while waiting, or a hard error).  */
static int
send_line (ws_context *ctx, const char *line, size_t len,
           unsigned long long *waits)
{
  ws_msg_type type = WS_MSG_TEXT;

  for (;;)
    {
      ws_status st = ws_send (ctx, 0, line, len, type);

      if (st == WS_OK)
        return 0;
      if (st == WS_ERR_INVALID_ARGUMENT && type == WS_MSG_TEXT)
        {
          /* Not UTF-8: a text frame cannot carry it, binary can.  */
          note ("line is not UTF-8: sending it as binary");
          type = WS_MSG_BINARY;
          continue;
        }
      if (st != WS_ERR_QUEUE_FULL)
        {
          fprintf (stderr, PROGRAM ": ws_send: %s (%s)\n", ws_strerror (st),
                   ws_last_error ());
          return -1;
        }
      if (*waits == 0 || (*waits & (*waits - 1)) == 0)
        note ("backpressure: send queue full, waiting for room (wait %llu)",
              *waits + 1);
      (*waits)++;
      st = ws_request_writable (ctx, 0);
      /* NOT_CONNECTED: no connection to become writable; the retry after
         a short pause is all that can be done until one exists.  */
      if (st != WS_OK && st != WS_ERR_NOT_CONNECTED)
        {
          fprintf (stderr, PROGRAM ": ws_request_writable: %s\n",
                   ws_strerror (st));
          return -1;
        }
      /* on_writable wakes us; the timeout only covers a connection
         that dropped meanwhile (its on_writable will never come).  */
      wait_wake (st == WS_OK ? 1000 : 100);
      if (stop_requested)
        return -1;
    }
}

/* send_line for read_lines: the context and the counters it updates.  */
struct line_sender
{
  ws_context *ctx;
  unsigned long long *waits, *sent;
};

static int
send_input_line (const char *line, size_t len, void *arg)
{
  struct line_sender *ls = arg;

  if (send_line (ls->ctx, line, len, ls->waits) < 0)
    return -1;
  (*ls->sent)++;
  return 0;
}

/* What every connection of this run is made with.  */
struct settings
{
  const char *address, *protocol, *cacert, *cert, *key;
  const char **headers;
  size_t nheaders;
  unsigned long long port, queue;
  int tls, insecure;
  ws_callbacks *cbs;
  struct client *client;
};

/* PATH with ?since=SINCE (or &since= when PATH has a query), in BUF.  */
static const char *
since_path (const char *path, unsigned long long since, char *buf, size_t size)
{
  snprintf (buf, size, "%s%csince=%llu", path, strchr (path, '?') ? '&' : '?',
            since);
  return buf;
}

/* Creates the client context for PATH.  Returns 0, or the exit status
   after printing why.  */
static int
open_context (const struct settings *set, const char *path, ws_context **ctx)
{
  ws_options *o;
  ws_status st = WS_OK;
  size_t i;

  o = ws_options_new (WS_MODE_CLIENT);
  if (!o)
    {
      fprintf (stderr, PROGRAM ": ws_options_new failed\n");
      return 1;
    }
  for (i = 0; i < set->nheaders && st == WS_OK; i++)
    {
      char name[256];
      const char *colon = strchr (set->headers[i], ':');
      const char *value;
      size_t n;

      if (!colon || colon == set->headers[i]
          || (n = (size_t) (colon - set->headers[i])) >= sizeof name)
        {
          fprintf (stderr, PROGRAM ": --header wants 'Name: value': %s\n",
                   set->headers[i]);
          ws_options_free (o);
          return 2;
        }
      memcpy (name, set->headers[i], n);
      name[n] = '\0';
      for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
        ;
      st = ws_options_add_header (o, name, value);
    }
  if (st != WS_OK
      || (st = ws_options_set_address (o, set->address)) != WS_OK
      || (st = ws_options_set_port (o, (int) set->port)) != WS_OK
      || (st = ws_options_set_path (o, path)) != WS_OK
      || (st = ws_options_set_protocol (o, set->protocol)) != WS_OK
      || (set->tls && (st = ws_options_set_tls (o, 1)) != WS_OK)
      || (set->cacert && (st = ws_options_set_cacert (o, set->cacert)) != WS_OK)
      || (set->insecure
          && (st = ws_options_set_allow_self_signed (o, 1)) != WS_OK)
      || (set->cert && ((st = ws_options_set_cert (o, set->cert)) != WS_OK
                        || (st = ws_options_set_key (o, set->key)) != WS_OK))
      || (set->queue
          && (st = ws_options_set_queue_capacity (o, set->queue)) != WS_OK)
      /* --subscribe reconnects itself, with a new since: the library's
         own reconnect (same path) must not come first.  */
      || (set->client->subscribe
          && (st = ws_options_set_reconnect_backoff_ms (o, 3600000,
                                                        3600000)) != WS_OK)
      || (st = ws_options_set_callbacks (o, set->cbs, set->client)) != WS_OK)
    {
      fprintf (stderr, PROGRAM ": %s (%s)\n", ws_strerror (st),
               ws_last_error ());
      ws_options_free (o);
      return 2;
    }
  st = ws_context_create (o, ctx);
  ws_options_free (o);
  if (st != WS_OK)
    {
      fprintf (stderr, PROGRAM ": %s (%s)\n", ws_strerror (st),
               ws_last_error ());
      return 1;
    }
  return 0;
}

/* --subscribe: waits for the end (Ctrl-C, --max-receive); each time the
   connection is lost, makes a new one after a backoff (0.5 s doubling to
   10 s, back to 0.5 s after a connection that received lines) asking for
   the lines after the last one printed.  Returns the exit status.  */
static int
subscribe_loop (const struct settings *set, const char *path,
                ws_context **ctx)
{
  struct client *c = set->client;
  unsigned long long backoff = 500, seen = 0;
  char pbuf[4096];
  int rc;

  while (!stop_requested && !receive_done)
    {
      unsigned long long since, received;
      struct timespec end, now;

      wait_wake (-1);
      if (stop_requested || receive_done || !conn_lost)
        continue;
      stopping = 1;
      ws_context_destroy (*ctx, 0, NULL);
      *ctx = NULL;
      stopping = 0;
      conn_lost = 0;
      pthread_mutex_lock (&c->lock);
      since = c->numbered || c->last_seq ? c->last_seq : 0;
      received = c->received;
      pthread_mutex_unlock (&c->lock);
      if (received > seen)
        backoff = 500;
      seen = received;
      if (!c->quiet)
        note ("reconnecting in %llu ms with since=%llu", backoff, since);
      clock_gettime (CLOCK_MONOTONIC, &end);
      end.tv_sec += (time_t) (backoff / 1000);
      end.tv_nsec += (long) (backoff % 1000) * 1000000L;
      if (end.tv_nsec >= 1000000000L)
        {
          end.tv_sec++;
          end.tv_nsec -= 1000000000L;
        }
      /* The backoff itself, cut short only by Ctrl-C.  */
      while (!stop_requested)
        {
          long left;

          clock_gettime (CLOCK_MONOTONIC, &now);
          left = (long) (end.tv_sec - now.tv_sec) * 1000
                 + (end.tv_nsec - now.tv_nsec) / 1000000L;
          if (left <= 0)
            break;
          wait_wake ((int) left);
        }
      backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
      rc = open_context (set, since_path (path, since, pbuf, sizeof pbuf),
                         ctx);
      if (rc != 0)
        return rc;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "address", required_argument, NULL, 'a' },
    { "port", required_argument, NULL, 'p' },
    { "path", required_argument, NULL, 'P' },
    { "protocol", required_argument, NULL, 'r' },
    { "header", required_argument, NULL, 'H' },
    { "tls", no_argument, NULL, 't' },
    { "cacert", required_argument, NULL, 'C' },
    { "insecure", no_argument, NULL, 'I' },
    { "cert", required_argument, NULL, 'c' },
    { "key", required_argument, NULL, 'k' },
    { "count", required_argument, NULL, 'n' },
    { "interval", required_argument, NULL, 'i' },
    { "queue", required_argument, NULL, 'Q' },
    { "subscribe", no_argument, NULL, 's' },
    { "max-receive", required_argument, NULL, 'm' },
    { "drain", required_argument, NULL, 'D' },
    { "raw", no_argument, NULL, 'R' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *address = "127.0.0.1", *path = "/", *protocol = NULL;
  const char *cert = NULL, *key = NULL, *cacert = NULL;
  const char **headers = NULL;
  size_t nheaders = 0;
  int tls = 0, insecure = 0, subscribe = 0, use_count = 0, opt, rc = 0;
  unsigned long long port = 8080, count = 0, interval = 0, queue = 0;
  unsigned long long drain = 5000, sent = 0, waits = 0;
  struct client c;
  struct settings set;
  ws_callbacks cbs;
  ws_context *ctx = NULL;
  ws_status st;
  ws_stats stats;
  uint64_t unsent = 0;
  char pbuf[4096];

  memset (&c, 0, sizeof c);
  memset (&set, 0, sizeof set);
  pthread_mutex_init (&c.lock, NULL);

  while ((opt = getopt_long (argc, argv, "a:p:P:r:H:tc:k:n:i:sm:qh", longopts,
                             NULL)) != -1)
    switch (opt)
      {
      case 'a': address = optarg; break;
      case 'p':
        if (parse_count (optarg, "port", &port) < 0 || port < 1 || port > 65535)
          {
            fprintf (stderr, PROGRAM ": port must be 1..65535\n");
            return 2;
          }
        break;
      case 'P': path = optarg; break;
      case 'r': protocol = optarg; break;
      case 'H':
        {
          const char **h = realloc (headers, (nheaders + 1) * sizeof *h);
          if (!h)
            {
              fprintf (stderr, PROGRAM ": out of memory\n");
              return 1;
            }
          headers = h;
          headers[nheaders++] = optarg;
        }
        break;
      case 't': tls = 1; break;
      case 'C': cacert = optarg; tls = 1; break;
      case 'I': insecure = 1; tls = 1; break;
      case 'c': cert = optarg; break;
      case 'k': key = optarg; break;
      case 'n':
        if (parse_count (optarg, "count", &count) < 0)
          return 2;
        use_count = 1;
        break;
      case 'i':
        if (parse_count (optarg, "interval", &interval) < 0
            || interval > 3600000)
          return 2;
        break;
      case 'Q':
        if (parse_count (optarg, "queue size", &queue) < 0 || queue == 0)
          return 2;
        break;
      case 's': subscribe = 1; break;
      case 'm':
        if (parse_count (optarg, "message count", &c.max_receive) < 0)
          return 2;
        break;
      case 'D':
        if (parse_count (optarg, "drain time", &drain) < 0
            || drain > UINT32_MAX)
          return 2;
        break;
      case 'R': c.raw = 1; break;
      case 'q': c.quiet = 1; break;
      case 'h': usage (stdout); return 0;
      default:
        fprintf (stderr, "Try '" PROGRAM " --help'.\n");
        return 2;
      }
  if (optind < argc)
    {
      fprintf (stderr, PROGRAM ": unexpected argument: %s\n", argv[optind]);
      return 2;
    }
  if (subscribe && use_count)
    {
      fprintf (stderr, PROGRAM ": --subscribe sends nothing: no --count\n");
      return 2;
    }
  if ((cert == NULL) != (key == NULL))
    {
      fprintf (stderr, PROGRAM ": --cert and --key go together\n");
      return 2;
    }

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (watch_stop_signals () < 0)
    return 1;

  memset (&cbs, 0, sizeof cbs);
  cbs.on_connect = on_connect;
  cbs.on_receive = on_receive;
  cbs.on_writable = on_writable;
  cbs.on_close = on_close;
  cbs.on_error = on_error;

  set.address = address;
  set.port = port;
  set.protocol = protocol;
  set.headers = headers;
  set.nheaders = nheaders;
  set.tls = tls;
  set.insecure = insecure;
  set.cacert = cacert;
  set.cert = cert;
  set.key = key;
  set.queue = queue;
  set.cbs = &cbs;
  set.client = &c;
  c.subscribe = subscribe;
  rc = open_context (&set, subscribe ? since_path (path, 0, pbuf, sizeof pbuf)
                     : path, &ctx);
  if (rc != 0)
    return rc;
  if (!c.quiet)
    {
      int v6 = strchr (address, ':') != NULL;
      note ("connecting to %s://%s%s%s:%llu%s", tls ? "wss" : "ws",
            v6 ? "[" : "", address, v6 ? "]" : "", port, path);
    }

  if (subscribe)
    /* Nothing to send: wait for Ctrl-C or --max-receive, reconnecting
       with since.  */
    rc = subscribe_loop (&set, path, &ctx);
  else if (use_count)
    {
      char host[64], line[256];
      unsigned long long n;

      if (gethostname (host, sizeof host) != 0)
        snprintf (host, sizeof host, "localhost");
      host[sizeof host - 1] = '\0';
      for (n = 1; n <= count && !stop_requested && !receive_done; n++)
        {
          time_t now = time (NULL);
          struct tm tm;
          char stamp[32];
          int len;

          localtime_r (&now, &tm);
          strftime (stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
          /* <14>: facility user, severity info, as logger(1) sends.  */
          len = snprintf (line, sizeof line,
                          "<14>%s %s " PROGRAM "[%ld]: test line %llu of %llu",
                          stamp, host, (long) getpid (), n, count);
          if (send_line (ctx, line, (size_t) len, &waits) < 0)
            break;
          sent++;
          if (interval && n < count)
            {
              /* Pacing, not synchronisation: a wake-up is a signal.  */
              struct timespec end, now_ts;
              clock_gettime (CLOCK_MONOTONIC, &end);
              end.tv_sec += (time_t) (interval / 1000);
              end.tv_nsec += (long) (interval % 1000) * 1000000L;
              if (end.tv_nsec >= 1000000000L)
                {
                  end.tv_sec++;
                  end.tv_nsec -= 1000000000L;
                }
              while (!stop_requested)
                {
                  long left;
                  clock_gettime (CLOCK_MONOTONIC, &now_ts);
                  left = (long) (end.tv_sec - now_ts.tv_sec) * 1000
                         + (end.tv_nsec - now_ts.tv_nsec) / 1000000L;
                  if (left <= 0)
                    break;
                  wait_wake ((int) left);
                }
            }
        }
    }
  else
    {
      struct line_reader in = { NULL, 0, 0 };
      struct line_sender ls = { ctx, &waits, &sent };
      struct pollfd pfd[2];
      int more = 1;

      pfd[0].fd = wake_pipe[0];
      pfd[0].events = POLLIN;
      pfd[1].fd = STDIN_FILENO;
      pfd[1].events = POLLIN;
      /* Poll standard input with the wake-up pipe, so Ctrl-C is noticed
         while standard input is idle.  */
      while (!stop_requested && more > 0 && !receive_done)
        {
          if (poll (pfd, 2, -1) < 0)
            {
              if (errno == EINTR)
                continue;
              perror (PROGRAM ": poll");
              rc = 1;
              break;
            }
          if (pfd[0].revents)
            {
              char why;
              while (read (wake_pipe[0], &why, 1) == 1)
                ;
              continue;
            }
          if (!pfd[1].revents)
            continue;
          more = read_lines (&in, STDIN_FILENO, send_input_line, &ls);
          if (more == -1)
            stop_requested = 1;         /* a line could not be sent */
          else if (more == -2)
            rc = 1;
        }
      free (in.buf);
    }

  if (!subscribe && !c.quiet)
    note ("%llu lines queued; waiting up to %llu ms for them to be sent",
          sent, drain);
  if (!subscribe)
    ws_flush (ctx, (uint32_t) drain);
  /* --max-receive: the answers may still be on their way.  */
  while (c.max_receive && !receive_done && !stop_requested)
    wait_wake (-1);
  memset (&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  if (!ctx)
    {
      /* --subscribe failed to make a new connection: said already.  */
      free (headers);
      pthread_mutex_destroy (&c.lock);
      return rc ? rc : 1;
    }
  ws_get_stats (ctx, &stats);
  stopping = 1;
  st = ws_context_destroy (ctx, 1000, &unsent);
  if (st != WS_OK)
    {
      fprintf (stderr, PROGRAM ": ws_context_destroy: %s\n", ws_strerror (st));
      rc = 1;
    }
  note ("stats: lines queued %llu, messages sent %" PRIu64 " (%" PRIu64
        " bytes), received %" PRIu64 ", connections %" PRIu64
        ", reconnects %" PRIu64 ", backpressure waits %llu, errors %" PRIu64
        ", unsent at exit %" PRIu64,
        sent, stats.messages_sent, stats.bytes_sent, stats.messages_received,
        stats.connections_total, stats.reconnects, waits, stats.errors,
        unsent);
  if (unsent)
    {
      fprintf (stderr, PROGRAM ": %" PRIu64 " lines were never sent\n",
               unsent);
      rc = 1;
    }
  if (use_count && sent < count)
    rc = 1;
  if (c.max_receive && c.received < c.max_receive)
    rc = 1;
  free (headers);
  pthread_mutex_destroy (&c.lock);
  return rc;
}
