/* echo_server: a WebSocket echo server on ws_api.h, the peer the
   Autobahn|Testsuite fuzzingclient tests.

   Every message is sent back to its sender with the same type.  Once
   listening it prints "PORT <n>" on standard output, so a script can
   start it on port 0 and read the port it got.  It stops at the end of
   standard input (the script that started it closes the pipe, so an
   orphan cannot outlive it) or on SIGINT/SIGTERM.

   Run `echo_server --help` for the options.  */

#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ws_api.h>

#define PROGRAM "echo_server"
#include "common.h"

static atomic_ullong echoed;
static atomic_ullong refused;
static int verbose;

static int
on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
            ws_msg_type type, void *user)
{
  ws_status st;

  (void) user;
  st = ws_send (ctx, conn, data, len, type);
  if (st == WS_OK)
    {
      echoed++;
      return 0;
    }
  /* An echo that cannot be queued is never dropped quietly: it is
     counted (the exit status says so) and the connection is closed with
     1011, so the suite sees the case fail instead of a missing echo.  */
  refused++;
  fprintf (stderr, PROGRAM ": connection %" PRIu64 ": cannot echo: %s\n",
           conn, ws_strerror (st));
  ws_close_connection (ctx, conn, 1011, "echo refused");
  return 0;
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status,
          const char *message, void *user)
{
  (void) ctx;
  (void) user;
  /* Many suite cases send bad frames on purpose: the engine's answer is
     a close, not a failure of this program, so this is only a log.  */
  if (verbose)
    fprintf (stderr, PROGRAM ": connection %" PRIu64 ": %s: %s\n", conn,
             ws_strerror (status), message ? message : "");
}

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: " PROGRAM " [OPTION]... [PORT]\n"
"A WebSocket echo server (the Autobahn|Testsuite fuzzingclient's peer):\n"
"sends every message back to its sender with the same type.\n"
"\n"
"  -a, --address=ADDR            address to bind (default 127.0.0.1)\n"
"  -p, --port=PORT               port (default 9001; 0 = any free port)\n"
"  -m, --max-message-size=BYTES  largest message (default 67108864: the\n"
"                                suite's 16 MiB cases must not hit it)\n"
"      --no-stdin                run until a signal, not until the end\n"
"                                of standard input\n"
"  -v, --verbose                 log protocol errors of peers\n"
"  -h, --help                    print this help and exit\n"
"\n"
"It prints \"PORT <n>\" on standard output once listening, and at exit\n"
"the number of messages echoed on standard error.  Exit status 1 when an\n"
"echo could not be queued.\n");
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "address", required_argument, NULL, 'a' },
    { "port", required_argument, NULL, 'p' },
    { "max-message-size", required_argument, NULL, 'm' },
    { "no-stdin", no_argument, NULL, 'N' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  const char *address = "127.0.0.1";
  unsigned long long port = 9001, max_size = 64ULL * 1024 * 1024;
  int read_stdin = 1, opt;
  ws_callbacks cbs;
  ws_options *o;
  ws_context *ctx;
  ws_status st;
  uint64_t unsent = 0;

  while ((opt = getopt_long (argc, argv, "a:p:m:vh", longopts, NULL)) != -1)
    switch (opt)
      {
      case 'a': address = optarg; break;
      case 'p':
        if (parse_range (optarg, "port", 0, 65535, &port) < 0)
          return 2;
        break;
      case 'm':
        if (parse_range (optarg, "max message size", 1, 1ULL << 31,
                         &max_size) < 0)
          return 2;
        break;
      case 'N': read_stdin = 0; break;
      case 'v': verbose = 1; break;
      case 'h': usage (stdout); return 0;
      default:
        fprintf (stderr, "Try '" PROGRAM " --help'.\n");
        return 2;
      }
  /* A bare PORT argument, as Autobahn scripts pass it.  */
  if (optind < argc
      && parse_range (argv[optind++], "port", 0, 65535, &port) < 0)
    return 2;
  if (optind < argc)
    {
      fprintf (stderr, PROGRAM ": unexpected argument: %s\n", argv[optind]);
      return 2;
    }

  if (watch_stop_signals () < 0)
    return 1;

  memset (&cbs, 0, sizeof cbs);
  cbs.on_receive = on_receive;
  cbs.on_error = on_error;
  o = ws_options_new (WS_MODE_SERVER);
  if (!o)
    return 1;
  if ((st = ws_options_set_address (o, address)) != WS_OK
      || (st = ws_options_set_port (o, (int) port)) != WS_OK
      || (st = ws_options_set_max_message_size (o, (size_t) max_size)) != WS_OK
      /* The suite tests its own pings; ours would only add frames to
         what it records.  */
      || (st = ws_options_set_ping_interval_ms (o, 0)) != WS_OK
      /* permessage-deflate, so Autobahn's groups 12 and 13 test it. */
      || (st = ws_options_set_compression (o, 1)) != WS_OK
      || (st = ws_options_set_callbacks (o, &cbs, NULL)) != WS_OK)
    {
      fprintf (stderr, PROGRAM ": %s (%s)\n", ws_strerror (st),
               ws_last_error ());
      ws_options_free (o);
      return 2;
    }
  st = ws_context_create (o, &ctx);
  ws_options_free (o);
  if (st != WS_OK)
    {
      fprintf (stderr, PROGRAM ": cannot listen on %s port %llu: %s (%s)\n",
               address, port, ws_strerror (st), ws_last_error ());
      return 1;
    }
  printf ("PORT %u\n", (unsigned) ws_local_port (ctx));
  fflush (stdout);

  for (;;)
    {
      struct pollfd pfd[2] = {
        { .fd = wake_pipe[0], .events = POLLIN },
        { .fd = STDIN_FILENO, .events = POLLIN },
      };
      char buf[4096];

      if (poll (pfd, read_stdin ? 2 : 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          perror (PROGRAM ": poll");
          break;
        }
      if (pfd[0].revents)
        break;
      if (read_stdin && pfd[1].revents)
        {
          ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
          if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
        }
    }

  st = ws_context_destroy (ctx, 2000, &unsent);
  fprintf (stderr, PROGRAM ": echoed %llu, refused %llu, unsent at exit %"
           PRIu64 "\n", (unsigned long long) echoed,
           (unsigned long long) refused, unsent);
  return st == WS_OK && refused == 0 ? 0 : 1;
}
