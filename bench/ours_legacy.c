/* ours_legacy.c: the 2016 functions (ws_api/client.h, ws_api/server.h) as syslog-ng calls them.
 *
 *   ours_legacy send --port P --count N [--size S]   websocket_client_send_msg N times
 *   ours_legacy sink --count N                       websocket_server_create with the
 *                                                    received-messages pipe; counts lines
 */
#define _GNU_SOURCE
#include "common.h"

#include <ws_api.h>
#include <ws_api/client.h>
#include <ws_api/server.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define USAGE "ours_legacy send|sink [--port P] [--count N] [--size S]"

static struct bench_args args;

static int
run_send (void)
{
  char *msg = bench_xmalloc (args.size + 1);
  char proto[] = "", addr[16], path[] = "/";
  int q = 0, pid = 0;
  uint64_t i, retries = 0, start;

  bench_fill_payload ((uint8_t *) msg, args.size);
  msg[args.size] = 0;
  snprintf (addr, sizeof addr, "%s", args.host);
  if (websocket_client_create (proto, addr, args.port, path, 0, NULL, NULL, NULL, &q, &pid) != 0)
    bench_die ("websocket_client_create: %s", ws_last_error ());
  start = bench_now_ns ();
  printf ("start_ns=%llu\n", (unsigned long long) start);
  for (i = 0; i < args.count; i++)
    /* -1 means a full queue here; the 2016 API has no event to wait for, so the caller (as
       syslog-ng does) retries; yielding lets the I/O thread drain.  */
    while (websocket_client_send_msg (msg, q, args.port) != 0)
      {
        retries++;
        sched_yield ();
      }
  /* Delivers what is queued (bounded wait), closes with 1000.  */
  websocket_client_disconnect (pid);
  printf ("sent=%llu\nend_ns=%llu\nqueue_full=%llu\n", (unsigned long long) args.count,
          (unsigned long long) bench_now_ns (), (unsigned long long) retries);
  bench_report_usage ();
  return 0;
}

/* A port that was free a moment ago: websocket_server_create takes a fixed port and the 2016
   API has no way to ask which one port 0 chose.  Retried by the caller if it is taken since.  */
static int
free_port (void)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0), port;

  memset (&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0
      || getsockname (fd, (struct sockaddr *) &sa, &sl) < 0)
    bench_die ("cannot find a free port: %s", strerror (errno));
  port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

static int
run_sink (void)
{
  char proto[] = "";
  int fd = -1, q = 0, pid = 0, port = 0, tries;
  uint64_t lines = 0, bytes = 0, first = 0, last = 0;
  char *buf = bench_xmalloc (1 << 20);

  for (tries = 0; tries < 10; tries++)
    {
      port = free_port ();
      if (websocket_server_create (proto, port, 0, NULL, NULL, NULL, &fd, &q, &pid) == 0)
        break;
      port = 0;
    }
  if (!port)
    bench_die ("websocket_server_create: %s", ws_last_error ());
  printf ("port=%d\n", port);
  fflush (stdout);
  while (lines < args.count)
    {
      ssize_t r = read (fd, buf, 1 << 20), i;
      uint64_t now;

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        bench_die ("pipe ended after %llu of %llu messages", (unsigned long long) lines,
                   (unsigned long long) args.count);
      now = bench_now_ns ();
      if (!first)
        first = now;
      for (i = 0; i < r; i++)
        if (buf[i] == '\n')
          lines++;
      bytes += (uint64_t) r;
      last = now;
    }
  websocket_server_shutdown (pid);
  printf ("recv=%llu\nbytes=%llu\nfirst_ns=%llu\nlast_ns=%llu\n", (unsigned long long) lines,
          (unsigned long long) (bytes - lines), (unsigned long long) first,
          (unsigned long long) last);
  bench_report_usage ();
  if (lines != args.count)
    bench_die ("got %llu lines, expected %llu", (unsigned long long) lines,
               (unsigned long long) args.count);
  return 0;
}

int
main (int argc, char **argv)
{
  bench_parse_args (argc, argv, &args, USAGE);
  if (strcmp (args.mode, "send") == 0)
    return run_send ();
  if (strcmp (args.mode, "sink") == 0)
    return run_sink ();
  bench_die ("unknown mode %s", args.mode);
}
