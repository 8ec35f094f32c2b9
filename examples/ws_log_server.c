/* ws_log_server: a WebSocket log server on ws_api.h.

   It prints every message it receives, with a timestamp and the peer's
   address, broadcasts every line read from standard input to all its
   subscribers, and serves a browser page (index.html) over plain HTTP
   on the same port, so a browser can subscribe to the live lines.

   Run `ws_log_server --help` for the options.

   Output (standard output, one line per event, line buffered):

     2026-11-25T10:00:00.123+0000 listening on ws://127.0.0.1:8080/ port 8080
     2026-11-25T10:00:01.001+0000 127.0.0.1:50432 #1 * connected (1 open)
     2026-11-25T10:00:01.002+0000 127.0.0.1:50432 #1 < <13>Nov 25 ... hello
     2026-11-25T10:00:02.000+0000 127.0.0.1:50432 #1 * closed 1001 (0 open)

   "<" marks a received message, "*" an event.  Control characters in a
   message are written as \xNN, so one message is always one line.

   --replay N keeps the last N broadcasts for subscribers that reconnect
   with ?since=<last number> (docs/replay.md); the page does.  */

#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ws_api.h>

#define PROGRAM "ws_log_server"
#include "common.h"

/* Installed by the Makefile as the absolute path of examples/index.html,
   so a server built anywhere finds the page without an option.  */
#ifndef WS_LOG_SERVER_INDEX
#define WS_LOG_SERVER_INDEX "index.html"
#endif

struct peer
{
  ws_conn_id id;
  char addr[64];                /* "ip:port" or "[ip6]:port" */
};

/* Everything the callbacks share with the main thread.  The callbacks
   run on the context's I/O thread, the stdin loop on the main thread.  */
struct server
{
  pthread_mutex_t lock;
  struct peer *peers;
  size_t npeers, cap;
  int relay;
  int replay;                   /* --replay given: relay by broadcast */
  int quiet;
  int compression;              /* --compression level, 0: off */
  unsigned long long max_messages;      /* 0: no limit */
  unsigned long long received;
  unsigned long long relay_refused;
};

/* One line on standard output, whole: stdio locks the stream per call
   only, and both threads print.  */
static void
say (const char *fmt, ...)
{
  va_list ap;

  flockfile (stdout);
  print_timestamp (stdout);
  va_start (ap, fmt);
  vfprintf (stdout, fmt, ap);
  va_end (ap);
  fputc ('\n', stdout);
  funlockfile (stdout);
}

/* Writes DATA with control characters (and a backslash) escaped, so a
   message can never break the one-line-per-message output.  */
static void
print_escaped (FILE *f, const uint8_t *data, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    {
      uint8_t c = data[i];
      if (c == '\\')
        fputs ("\\\\", f);
      else if (c < 0x20 || c == 0x7f)
        fprintf (f, "\\x%02x", c);
      else
        fputc (c, f);
    }
}

static void
format_peer (ws_context *ctx, ws_conn_id conn, char *out, size_t len)
{
  char ip[48];                  /* 46 always suffice (INET6_ADDRSTRLEN) */
  uint16_t port = 0;

  if (ws_peer_address (ctx, conn, ip, sizeof ip, &port) != WS_OK)
    snprintf (out, len, "?");
  else if (strchr (ip, ':'))
    snprintf (out, len, "[%s]:%u", ip, (unsigned) port);
  else
    snprintf (out, len, "%s:%u", ip, (unsigned) port);
}

/* Copies the address of CONN into OUT; "?" when it is not in the table.
   Called with the lock held.  */
static void
peer_addr_locked (struct server *s, ws_conn_id conn, char *out, size_t len)
{
  size_t i;

  for (i = 0; i < s->npeers; i++)
    if (s->peers[i].id == conn)
      {
        snprintf (out, len, "%s", s->peers[i].addr);
        return;
      }
  snprintf (out, len, "?");
}

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  struct server *s = user;
  char addr[64];
  size_t open;

  format_peer (ctx, conn, addr, sizeof addr);
  pthread_mutex_lock (&s->lock);
  if (s->npeers == s->cap)
    {
      size_t cap = s->cap ? s->cap * 2 : 16;
      struct peer *p = realloc (s->peers, cap * sizeof *p);
      if (!p)
        {
          pthread_mutex_unlock (&s->lock);
          fprintf (stderr, PROGRAM ": out of memory: closing #%" PRIu64 "\n",
                   conn);
          ws_close_connection (ctx, conn, 1011, "server out of memory");
          return;
        }
      s->peers = p;
      s->cap = cap;
    }
  s->peers[s->npeers].id = conn;
  snprintf (s->peers[s->npeers].addr, sizeof s->peers[s->npeers].addr, "%s",
            addr);
  open = ++s->npeers;
  pthread_mutex_unlock (&s->lock);
  if (!s->quiet && s->compression)
    {
      /* The library counts a connection among the compressed ones before
         its on_connect: this is how many open connections negotiated
         permessage-deflate, this one included if it did.  */
      ws_stats st;

      memset (&st, 0, sizeof st);
      st.struct_size = sizeof st;
      ws_get_stats (ctx, &st);
      say ("%s #%" PRIu64 " * connected (%zu open, %" PRIu64 " compressed)",
           addr, conn, open, st.connections_compressed);
    }
  else if (!s->quiet)
    say ("%s #%" PRIu64 " * connected (%zu open)", addr, conn, open);
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason,
          void *user)
{
  struct server *s = user;
  char addr[64] = "?";
  size_t i, open;

  (void) ctx;
  pthread_mutex_lock (&s->lock);
  for (i = 0; i < s->npeers; i++)
    if (s->peers[i].id == conn)
      {
        snprintf (addr, sizeof addr, "%s", s->peers[i].addr);
        s->peers[i] = s->peers[--s->npeers];
        break;
      }
  open = s->npeers;
  pthread_mutex_unlock (&s->lock);
  if (!s->quiet)
    say ("%s #%" PRIu64 " * closed %u%s%s%s (%zu open)", addr, conn,
         (unsigned) code, reason && *reason ? " \"" : "",
         reason && *reason ? reason : "", reason && *reason ? "\"" : "", open);
}

/* With --relay, a received message goes to every other subscriber: a
   log client pushing lines feeds every browser watching.  */
static void
relay (struct server *s, ws_context *ctx, ws_conn_id from, const uint8_t *data,
       size_t len, ws_msg_type type)
{
  size_t i;

  if (s->replay)
    {
      /* With --replay every line subscribers see is numbered, so the
         relayed one is a broadcast too (its sender gets it as well).  */
      ws_status st = ws_broadcast (ctx, data, len, type);

      if (st != WS_OK)
        {
          pthread_mutex_lock (&s->lock);
          s->relay_refused++;
          pthread_mutex_unlock (&s->lock);
          fprintf (stderr, PROGRAM ": relay: %s\n", ws_strerror (st));
        }
      return;
    }
  pthread_mutex_lock (&s->lock);
  for (i = 0; i < s->npeers; i++)
    {
      ws_status st;

      if (s->peers[i].id == from)
        continue;
      st = ws_send (ctx, s->peers[i].id, data, len, type);
      /* A subscriber that closed meanwhile (NOT_CONNECTED) misses
         nothing it could have had; a full queue is a real loss, so it
         is reported and counted.  */
      if (st != WS_OK && st != WS_ERR_NOT_CONNECTED)
        {
          s->relay_refused++;
          fprintf (stderr, PROGRAM ": relay to #%" PRIu64 ": %s\n",
                   s->peers[i].id, ws_strerror (st));
        }
    }
  pthread_mutex_unlock (&s->lock);
}

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
            ws_msg_type type, void *user)
{
  struct server *s = user;
  char addr[64];
  unsigned long long n;

  pthread_mutex_lock (&s->lock);
  if (s->max_messages && s->received >= s->max_messages)
    {
      /* Past --max-messages: the server is stopping.  Pausing the
         connection leaves the rest unread (the peer still has it as
         unacknowledged TCP data) instead of printing more than asked.  */
      pthread_mutex_unlock (&s->lock);
      return 1;
    }
  peer_addr_locked (s, conn, addr, sizeof addr);
  n = ++s->received;
  pthread_mutex_unlock (&s->lock);

  flockfile (stdout);
  print_timestamp (stdout);
  fprintf (stdout, "%s #%" PRIu64 " < ", addr, conn);
  if (type == WS_MSG_BINARY)
    fprintf (stdout, "(binary, %zu bytes) ", len);
  print_escaped (stdout, data, len);
  fputc ('\n', stdout);
  funlockfile (stdout);

  if (s->relay)
    relay (s, ctx, conn, data, len, type);
  if (s->max_messages && n == s->max_messages)
    wake ('m');
  return 0;
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status,
          const char *message, void *user)
{
  struct server *s = user;
  char addr[64];

  (void) ctx;
  pthread_mutex_lock (&s->lock);
  peer_addr_locked (s, conn, addr, sizeof addr);
  pthread_mutex_unlock (&s->lock);
  say ("%s #%" PRIu64 " * error: %s: %s", addr, conn, ws_strerror (status),
       message ? message : "");
}

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: " PROGRAM " [OPTION]...\n"
"A WebSocket log server: prints every message it receives (with a timestamp\n"
"and the peer's address), broadcasts each line read from standard input to\n"
"every connected subscriber, and serves a browser page on the same port.\n"
"\n"
"  -a, --address=ADDR     address to bind (default 127.0.0.1; 0.0.0.0 or ::\n"
"                         for every interface)\n"
"  -p, --port=PORT        port to listen on (default 8080; 0 = any free port,\n"
"                         the chosen one is printed in the \"listening\" line)\n"
"  -P, --path=PATH        WebSocket path (default /)\n"
"  -r, --protocol=NAME    Sec-WebSocket-Protocol to speak (default: none)\n"
"  -c, --cert=FILE        PEM certificate: serve wss:// and https://\n"
"  -k, --key=FILE         PEM private key of the certificate\n"
"      --cacert=FILE      require client certificates signed by this CA\n"
"      --allow-origin=ORIGIN  let pages from ORIGIN (scheme://host[:port], or\n"
"                         * for any) subscribe; repeatable.  Default: only\n"
"                         pages served by this server (same host:port)\n"
"      --token=TOKEN      require this bearer token from subscribers\n"
"                         (Authorization: Bearer TOKEN or ?access_token=TOKEN;\n"
"                         the page takes it from #token=TOKEN); repeatable.\n"
"                         Note: other local users can read command lines\n"
"      --trusted-proxy=ADDR  behind a reverse proxy at ADDR (an address or a\n"
"                         CIDR block such as 10.0.0.0/8): take the client's\n"
"                         address from its X-Forwarded-For / Forwarded\n"
"                         header; repeatable.  Default: none (headers ignored)\n"
"  -i, --index=FILE       page served to plain HTTP GETs of the path\n"
"                         (default " WS_LOG_SERVER_INDEX ")\n"
"      --no-index         serve no page (plain GETs get 426)\n"
"  -R, --relay            also send each received message to every other\n"
"                         subscriber (log clients feed browsers)\n"
"  -z, --compression=LEVEL  permessage-deflate at zlib LEVEL 1 (fastest,\n"
"                         the default) to 9 (smallest) for clients that\n"
"                         offer it (every browser does); 0 turns it off\n"
"      --queue=N          messages queued per subscriber (default 65536)\n"
"      --replay=N         keep the last N broadcasts for subscribers that\n"
"                         reconnect with ?since= (default 0: off; the page\n"
"                         and ws_log_client --subscribe ask for it); with\n"
"                         --relay, relayed lines are broadcast (numbered)\n"
"      --slow=POLICY      a subscriber whose queue is full: \"disconnect\"\n"
"                         (default) or \"drop-oldest\"\n"
"      --no-stdin         do not read standard input\n"
"      --exit-on-eof      stop at the end of standard input (after sending\n"
"                         what was read) instead of serving on\n"
"  -n, --max-messages=N   stop after receiving N messages (what comes\n"
"                         later is left unread)\n"
"  -q, --quiet            print received messages only, no events\n"
"  -h, --help             print this help and exit\n"
"\n"
"It stops on SIGINT (Ctrl-C) or SIGTERM, giving subscribers up to 2 s to\n"
"receive what is queued, and prints its counters.\n"
"\n"
"Examples:\n"
"  " PROGRAM " --port 8080                 # open http://127.0.0.1:8080/\n"
"  tail -F /var/log/syslog | " PROGRAM " -a 0.0.0.0 -p 8080\n"
"  " PROGRAM " -p 8443 -c server.pem -k server.key   # wss://\n"
"  " PROGRAM " -a 0.0.0.0 --token \"$(openssl rand -hex 16)\"\n"
"                         # open http://HOST:8080/#token=THE-TOKEN\n");
}

/* Who may subscribe, and who they are behind a proxy: the --allow-origin,
   --token and --trusted-proxy values.  */
static ws_status
add_access (ws_options *o, const char **origins, size_t norigins,
            const char **tokens, size_t ntokens,
            const char **proxies, size_t nproxies)
{
  ws_status st = WS_OK;
  size_t i;

  for (i = 0; st == WS_OK && i < norigins; i++)
    st = ws_options_add_allowed_origin (o, origins[i]);
  for (i = 0; st == WS_OK && i < ntokens; i++)
    st = ws_options_add_bearer_token (o, tokens[i]);
  for (i = 0; st == WS_OK && i < nproxies; i++)
    st = ws_options_add_trusted_proxy (o, proxies[i]);
  return st;
}

/* What broadcast_line needs besides the line.  */
struct broadcast_target
{
  ws_context *ctx;
  struct server *s;
  unsigned long long *lines, *unheard;
};

/* Sends one stdin line to every subscriber (a read_lines callback).
   Returns 0, or -1 when the context refuses it for a reason other than a
   bad line.  */
static int
broadcast_line (const char *line, size_t len, void *arg)
{
  struct broadcast_target *t = arg;
  ws_context *ctx = t->ctx;
  struct server *s = t->s;
  unsigned long long *lines = t->lines, *unheard = t->unheard;
  ws_status st;
  size_t open;

  pthread_mutex_lock (&s->lock);
  open = s->npeers;
  pthread_mutex_unlock (&s->lock);
  /* A broadcast to nobody reaches nobody: counted, so the summary tells
     how many lines no subscriber saw.  */
  if (open == 0)
    (*unheard)++;

  st = ws_broadcast (ctx, line, len, WS_MSG_TEXT);
  if (st == WS_ERR_INVALID_ARGUMENT)
    {
      /* Not UTF-8: a text frame cannot carry it; binary can.  */
      st = ws_broadcast (ctx, line, len, WS_MSG_BINARY);
      if (st == WS_OK)
        fprintf (stderr, PROGRAM ": line %llu is not UTF-8: sent as binary\n",
                 *lines + 1);
    }
  if (st != WS_OK)
    {
      fprintf (stderr, PROGRAM ": broadcast of line %llu: %s (%s)\n",
               *lines + 1, ws_strerror (st), ws_last_error ());
      return st == WS_ERR_TOO_LARGE ? 0 : -1;
    }
  (*lines)++;
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
    { "cert", required_argument, NULL, 'c' },
    { "key", required_argument, NULL, 'k' },
    { "cacert", required_argument, NULL, 'C' },
    { "allow-origin", required_argument, NULL, 'O' },
    { "token", required_argument, NULL, 'T' },
    { "trusted-proxy", required_argument, NULL, 'X' },
    { "index", required_argument, NULL, 'i' },
    { "no-index", no_argument, NULL, 'I' },
    { "relay", no_argument, NULL, 'R' },
    { "queue", required_argument, NULL, 'Q' },
    { "compression", required_argument, NULL, 'z' },
    { "slow", required_argument, NULL, 'S' },
    { "replay", required_argument, NULL, 'Y' },
    { "no-stdin", no_argument, NULL, 'N' },
    { "exit-on-eof", no_argument, NULL, 'E' },
    { "max-messages", required_argument, NULL, 'n' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *address = "127.0.0.1", *path = "/", *protocol = NULL;
  const char *cert = NULL, *key = NULL, *cacert = NULL;
  const char *index_html = WS_LOG_SERVER_INDEX;
  int index_given = 0, read_stdin = 1, exit_on_eof = 0;
  unsigned long long port = 8080, queue = 0, lines = 0, unheard = 0;
  unsigned long long replay = 0;
  /* On by default: the page is for browsers, which all offer permessage-deflate, and log lines
     shrink to about 40 % (docs/bench.md, scenario 9); level 1 costs the least CPU.  */
  unsigned long long compression = 1;
  ws_slow_policy slow = WS_SLOW_DISCONNECT;
  struct server s;
  ws_callbacks cbs;
  ws_options *o;
  ws_context *ctx;
  ws_status st;
  ws_stats stats;
  uint64_t unsent = 0;
  struct line_reader in = { NULL, 0, 0 };
  struct broadcast_target target;
  int opt, rc = 0, stop = 0;
  /* --allow-origin, --token and --trusted-proxy values (pointers into
     argv), checked by the library when the options are built.  */
  const char **origins, **tokens, **proxies;
  size_t norigins = 0, ntokens = 0, nproxies = 0;

  origins = calloc ((size_t) argc, sizeof *origins);
  tokens = calloc ((size_t) argc, sizeof *tokens);
  proxies = calloc ((size_t) argc, sizeof *proxies);
  if (!origins || !tokens || !proxies)
    {
      fprintf (stderr, PROGRAM ": out of memory\n");
      return 1;
    }
  memset (&s, 0, sizeof s);
  pthread_mutex_init (&s.lock, NULL);

  while ((opt = getopt_long (argc, argv, "a:p:P:r:c:k:i:Rn:qz:h", longopts,
                             NULL)) != -1)
    switch (opt)
      {
      case 'a': address = optarg; break;
      case 'p':
        if (parse_count (optarg, "port", &port) < 0 || port > 65535)
          {
            fprintf (stderr, PROGRAM ": port must be 0..65535\n");
            return 2;
          }
        break;
      case 'P': path = optarg; break;
      case 'r': protocol = optarg; break;
      case 'c': cert = optarg; break;
      case 'k': key = optarg; break;
      case 'C': cacert = optarg; break;
      case 'O': origins[norigins++] = optarg; break;
      case 'T': tokens[ntokens++] = optarg; break;
      case 'X': proxies[nproxies++] = optarg; break;
      case 'i': index_html = optarg; index_given = 1; break;
      case 'I': index_html = NULL; break;
      case 'R': s.relay = 1; break;
      case 'Q':
        if (parse_count (optarg, "queue size", &queue) < 0 || queue == 0)
          return 2;
        break;
      case 'Y':
        if (parse_count (optarg, "replay retention", &replay) < 0)
          return 2;
        s.replay = replay > 0;
        break;
      case 'z':
        if (parse_count (optarg, "compression level", &compression) < 0
            || compression > 9)
          {
            fprintf (stderr, PROGRAM ": --compression is 0 (off) to 9\n");
            return 2;
          }
        break;
      case 'S':
        if (!strcmp (optarg, "disconnect"))
          slow = WS_SLOW_DISCONNECT;
        else if (!strcmp (optarg, "drop-oldest"))
          slow = WS_SLOW_DROP_OLDEST;
        else
          {
            fprintf (stderr, PROGRAM ": --slow is disconnect or drop-oldest\n");
            return 2;
          }
        break;
      case 'N': read_stdin = 0; break;
      case 'E': exit_on_eof = 1; break;
      case 'n':
        if (parse_count (optarg, "message count", &s.max_messages) < 0)
          return 2;
        break;
      case 'q': s.quiet = 1; break;
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
  if ((cert == NULL) != (key == NULL))
    {
      fprintf (stderr, PROGRAM ": --cert and --key go together\n");
      return 2;
    }
  if (index_html && access (index_html, R_OK) != 0)
    {
      /* The default page is optional; a page asked for is not.  */
      if (index_given)
        {
          fprintf (stderr, PROGRAM ": cannot read %s: %s\n", index_html,
                   strerror (errno));
          return 2;
        }
      fprintf (stderr, PROGRAM ": no page at %s: serving none (use --index)\n",
               index_html);
      index_html = NULL;
    }

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (watch_stop_signals () < 0)
    return 1;

  memset (&cbs, 0, sizeof cbs);
  cbs.on_connect = on_connect;
  cbs.on_receive = on_receive;
  cbs.on_close = on_close;
  cbs.on_error = on_error;

  o = ws_options_new (WS_MODE_SERVER);
  if (!o)
    {
      fprintf (stderr, PROGRAM ": ws_options_new failed\n");
      return 1;
    }
  if ((st = ws_options_set_address (o, address)) != WS_OK
      || (st = ws_options_set_port (o, (int) port)) != WS_OK
      || (st = ws_options_set_path (o, path)) != WS_OK
      || (st = ws_options_set_protocol (o, protocol)) != WS_OK
      || (st = ws_options_set_slow_policy (o, slow)) != WS_OK
      || (replay
          && (st = ws_options_set_replay_retention (o, replay, 0)) != WS_OK)
      || (st = ws_options_set_compression (o, s.compression = (int) compression)) != WS_OK
      || (index_html && (st = ws_options_set_index_html (o, index_html)) != WS_OK)
      || (queue && (st = ws_options_set_queue_capacity (o, queue)) != WS_OK)
      || (cert && ((st = ws_options_set_tls (o, 1)) != WS_OK
                   || (st = ws_options_set_cert (o, cert)) != WS_OK
                   || (st = ws_options_set_key (o, key)) != WS_OK))
      || (cacert && (st = ws_options_set_cacert (o, cacert)) != WS_OK)
      || (st = ws_options_set_callbacks (o, &cbs, &s)) != WS_OK
      || (st = add_access (o, origins, norigins, tokens, ntokens,
                           proxies, nproxies)) != WS_OK)
    {
      free (origins);
      free (tokens);
      free (proxies);
      fprintf (stderr, PROGRAM ": %s (%s)\n", ws_strerror (st),
               ws_last_error ());
      ws_options_free (o);
      return 2;
    }
  free (origins);
  free (tokens);
  free (proxies);
  st = ws_context_create (o, &ctx);
  ws_options_free (o);
  if (st != WS_OK)
    {
      fprintf (stderr, PROGRAM ": cannot listen on %s port %llu: %s (%s)\n",
               address, port, ws_strerror (st), ws_last_error ());
      return 1;
    }

  {
    const char *host = address;
    int v6 = strchr (address, ':') != NULL;
    unsigned bound = ws_local_port (ctx);

    /* A wildcard address is no URL a browser can open; loopback is.  */
    if (!strcmp (address, "0.0.0.0"))
      host = "127.0.0.1";
    else if (!strcmp (address, "::"))
      host = "::1";
    say ("listening on %s://%s%s%s:%u%s port %u", cert ? "wss" : "ws",
         v6 ? "[" : "", host, v6 ? "]" : "", bound, path, bound);
    /* The token itself is never printed: output may end up in logs.  */
    if (index_html)
      say ("browser page: %s://%s%s%s:%u%s%s", cert ? "https" : "http",
           v6 ? "[" : "", host, v6 ? "]" : "", bound, path,
           ntokens ? " (append #token=TOKEN)" : "");
  }

  /* Main loop: stdin lines and wake-ups (signals, --max-messages).  */
  target.ctx = ctx;
  target.s = &s;
  target.lines = &lines;
  target.unheard = &unheard;
  while (!stop)
    {
      struct pollfd pfd[2];
      int nfds = 1;

      pfd[0].fd = wake_pipe[0];
      pfd[0].events = POLLIN;
      if (read_stdin)
        {
          pfd[1].fd = STDIN_FILENO;
          pfd[1].events = POLLIN;
          nfds = 2;
        }
      if (poll (pfd, nfds, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          perror (PROGRAM ": poll");
          rc = 1;
          break;
        }
      if (pfd[0].revents)
        {
          char why[16];
          ssize_t n = read (wake_pipe[0], why, sizeof why);
          (void) n;
          stop = 1;
          break;
        }
      if (nfds == 2 && pfd[1].revents)
        {
          int more = read_lines (&in, STDIN_FILENO, broadcast_line, &target);

          if (more < 0)
            {
              rc = 1;
              break;
            }
          if (more == 0)
            {
              read_stdin = 0;
              if (exit_on_eof)
                break;
            }
        }
    }
  free (in.buf);

  /* Counters first: destroy frees them.  What the drain could not send
     is reported by destroy itself.  */
  memset (&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  ws_get_stats (ctx, &stats);
  st = ws_context_destroy (ctx, 2000, &unsent);
  if (st != WS_OK)
    {
      fprintf (stderr, PROGRAM ": ws_context_destroy: %s\n", ws_strerror (st));
      rc = 1;
    }
  fprintf (stderr,
           PROGRAM ": %" PRIu64 " connections, %llu messages received, %llu "
           "lines broadcast (%llu with no subscriber), %" PRIu64 " messages "
           "sent, %" PRIu64 " dropped by the slow policy, %llu relays "
           "refused, %" PRIu64 " handshakes refused, %" PRIu64 " unsent at "
           "exit\n",
           stats.connections_total, s.received, lines, unheard,
           stats.messages_sent, stats.messages_dropped, s.relay_refused,
           stats.handshakes_refused, unsent);
  free (s.peers);
  pthread_mutex_destroy (&s.lock);
  return rc;
}
