/* rawws.c: the raw-TCP side of the benchmarks: WebSocket frames over plain sockets, no library.
 *
 *   rawws sink  --count N [--conns K] [--latency]      listen; parse + unmask client frames
 *   rawws send  --port P --count N [--size S] [--conns K] [--rate R] [--latency] [--upgrade]
 *                                                        connect; write masked frames (64 KiB batches,
 *                                                        or one write per message when paced);
 *                                                        --upgrade: HTTP upgrade first, so that any
 *                                                        WebSocket server can be the sink
 *   rawws bcast --count N --conns S [--size S]         listen; write N unmasked frames to each of S
 *   rawws sub   --port P --count N --conns S [--no-handshake]
 *                                                        S subscribers (HTTP upgrade unless
 *                                                        --no-handshake) that each expect N messages;
 *                                                        --count 0: connect, report, idle until stdin EOF;
 *                                                        --deflate: offer permessage-deflate, require it in
 *                                                        the answer, send one compressed message (idle
 *                                                        compressed connections, scenario 9)
 *
 * The sender and the broadcaster are the wire limit our numbers are compared with; the
 * subscriber tool is also the consumer for every broadcast and connection benchmark, so that the
 * three columns there measure only the server.  */
#define _GNU_SOURCE
#include "common.h"
#include "wsframe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define USAGE "rawws sink|send|bcast|sub [--host H] [--port P] [--count N] [--size S] [--conns K] [--rate R] [--latency] [--no-handshake] [--upgrade] [--binary] [--deflate]"
#define BATCH (64 * 1024)
#define RDBUF (256 * 1024)

static struct bench_args args;

static void
set_nonblock (int fd)
{
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
}

static int
listen_any (void)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  int one = 1, fd = socket (AF_INET, SOCK_STREAM, 0);

  if (fd < 0)
    bench_die ("socket: %s", strerror (errno));
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset (&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((uint16_t) args.port);
  inet_pton (AF_INET, args.host, &sa.sin_addr);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, 4096) < 0)
    bench_die ("bind/listen: %s", strerror (errno));
  getsockname (fd, (struct sockaddr *) &sa, &sl);
  printf ("port=%d\n", ntohs (sa.sin_port));
  fflush (stdout);
  return fd;
}

static int
connect_to (int nonblock)
{
  struct sockaddr_in sa;
  int one = 1, fd = socket (AF_INET, SOCK_STREAM, 0);

  if (fd < 0)
    bench_die ("socket: %s", strerror (errno));
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  memset (&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((uint16_t) args.port);
  if (inet_pton (AF_INET, args.host, &sa.sin_addr) != 1)
    bench_die ("bad --host %s", args.host);
  if (nonblock)
    set_nonblock (fd);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
    bench_die ("connect: %s", strerror (errno));
  return fd;
}

static void
write_all (int fd, const uint8_t *p, size_t len)
{
  while (len > 0)
    {
      ssize_t w = write (fd, p, len);

      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          bench_die ("write: %s", strerror (errno));
        }
      p += w;
      len -= (size_t) w;
    }
}

/* The client's HTTP upgrade request (a fixed key: the servers measured do not care).  */
static const char upgrade_req[] =
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* The same, offering permessage-deflate as browsers do (RFC 7692).  */
static const char upgrade_req_deflate[] =
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/* One compressed text message, "Hello" (RFC 7692, 7.2.3.1: f2 48 cd c9 c9 07 00), masked with a
   zero key: FIN + RSV1 + text, then the mask bit and length 7.  A --deflate subscriber sends it
   once, so the server has inflated on that connection and holds whatever state that takes: the
   idle connection measured is one that has talked.  */
static const uint8_t hello_deflated[] = { 0xc1, 0x87, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };

/* --upgrade on a blocking socket: sends the request and reads the response up to its blank
   line, one byte at a time so that nothing after it is consumed (the server sends nothing
   more until the client does anyway; this runs once per connection, before the clock).  */
static void
upgrade_blocking (int fd)
{
  char resp[1024];
  size_t len = 0;

  write_all (fd, (const uint8_t *) upgrade_req, sizeof upgrade_req - 1);
  while (len < 4 || memcmp (resp + len - 4, "\r\n\r\n", 4) != 0)
    {
      ssize_t r;

      if (len == sizeof resp - 1)
        bench_die ("upgrade: response too long");
      r = read (fd, resp + len, 1);
      if (r <= 0)
        bench_die ("upgrade: connection closed during the handshake");
      len++;
    }
  resp[len] = 0;
  if (strncmp (resp, "HTTP/1.1 101", 12) != 0)
    bench_die ("upgrade refused: %.40s", resp);
}

/* ---- sink ---------------------------------------------------------------------------------- */

static struct bench_lat lat;
static uint64_t first_ns, last_ns;

static uint64_t sink_total;

/* The clock is read for the first and the last message only, and for each one when measuring
   latency (as in the other sinks).  */
static void
sink_on_message (void *user, const uint8_t *stamp, size_t stamp_len)
{
  (void) user;
  if (++sink_total == 1)
    first_ns = bench_now_ns ();
  if (args.latency)
    {
      uint64_t t = bench_read_stamp (stamp, stamp_len), now = bench_now_ns ();

      bench_lat_add (&lat, now > t ? now - t : 0);
      last_ns = now;
    }
  if (sink_total == args.count)
    last_ns = bench_now_ns ();
}

static int
run_sink (void)
{
  int lfd = listen_any (), ep = epoll_create1 (0);
  struct epoll_event ev, evs[64];
  struct ws_parser *ps = calloc ((size_t) args.conns, sizeof *ps);
  int *fds = calloc ((size_t) args.conns, sizeof *fds);
  uint8_t *buf = bench_xmalloc (RDBUF);
  int nconn = 0, open_conns = 0, i;
  uint64_t total = 0, bytes = 0;

  ev.events = EPOLLIN;
  ev.data.u32 = UINT32_MAX;
  epoll_ctl (ep, EPOLL_CTL_ADD, lfd, &ev);
  while (args.count == 0 || total < args.count)
    {
      int n = epoll_wait (ep, evs, 64, -1);

      for (i = 0; i < n; i++)
        {
          uint32_t k = evs[i].data.u32;

          if (k == UINT32_MAX)
            {
              int fd = accept (lfd, NULL, NULL);

              if (fd < 0)
                continue;
              if (nconn == args.conns)
                bench_die ("more than --conns %d connections", args.conns);
              set_nonblock (fd);
              fds[nconn] = fd;
              ws_parser_init (&ps[nconn]);
              ps[nconn].on_message = sink_on_message;
              ev.events = EPOLLIN;
              ev.data.u32 = (uint32_t) nconn++;
              open_conns++;
              epoll_ctl (ep, EPOLL_CTL_ADD, fd, &ev);
              continue;
            }
          for (;;)
            {
              ssize_t r = read (fds[k], buf, RDBUF);

              if (r > 0)
                {
                  uint64_t before = ps[k].messages, bb = ps[k].bytes;

                  if (ws_parser_feed (&ps[k], buf, (size_t) r) < 0)
                    bench_die ("protocol error on connection %u", k);
                  total += ps[k].messages - before;
                  bytes += ps[k].bytes - bb;
                  if (r < RDBUF)
                    break;
                  continue;
                }
              if (r < 0 && errno == EAGAIN)
                break;
              if (r < 0 && errno == EINTR)
                continue;
              /* EOF or error: the sender is done (or gone).  */
              epoll_ctl (ep, EPOLL_CTL_DEL, fds[k], NULL);
              close (fds[k]);
              if (--open_conns == 0 && nconn == args.conns && args.count && total < args.count)
                bench_die ("senders closed after %llu of %llu messages",
                           (unsigned long long) total, (unsigned long long) args.count);
              break;
            }
        }
    }
  printf ("recv=%llu\nbytes=%llu\nfirst_ns=%llu\nlast_ns=%llu\n", (unsigned long long) total,
          (unsigned long long) bytes, (unsigned long long) first_ns, (unsigned long long) last_ns);
  bench_lat_report (&lat);
  bench_report_usage ();
  return 0;
}

/* ---- send ---------------------------------------------------------------------------------- */

struct sender
{
  pthread_t th;
  uint64_t count;
};

static const uint8_t mask_key[4] = { 0x12, 0x34, 0x56, 0x78 };

/* Writes `count` frames in 64 KiB batches: one prebuilt image holding as many whole frames as
   fit (at least one), written again and again; the tail batch is cut at a frame boundary.  */
static void *
sender_batched (void *arg)
{
  struct sender *s = arg;
  int fd = connect_to (0);
  uint8_t hdr[14];
  size_t hl = ws_frame_header (hdr, args.binary ? 2 : 1, args.size, mask_key);
  size_t flen = hl + args.size;
  size_t per = flen >= BATCH ? 1 : BATCH / flen;
  uint8_t *img = bench_xmalloc (per * flen);
  uint64_t left = s->count;
  size_t i;

  if (args.upgrade)
    upgrade_blocking (fd);
  for (i = 0; i < per; i++)
    {
      memcpy (img + i * flen, hdr, hl);
      bench_fill_payload (img + i * flen + hl, args.size);
      ws_frame_mask (img + i * flen + hl, args.size, mask_key, 0);
    }
  while (left > 0)
    {
      uint64_t k = left < per ? left : per;

      write_all (fd, img, (size_t) k * flen);
      left -= k;
    }
  if (args.upgrade)
    {
      /* A WebSocket server expects a closing handshake: close frame, status 1000.  */
      uint8_t close_frame[14 + 2];
      size_t ch = ws_frame_header (close_frame, 8, 2, mask_key);

      close_frame[ch] = 0x03;
      close_frame[ch + 1] = 0xe8;
      ws_frame_mask (close_frame + ch, 2, mask_key, 0);
      write_all (fd, close_frame, ch + 2);
    }
  /* Wait for the sink to close (it has read everything) so the process exit never races it.  */
  shutdown (fd, SHUT_WR);
  while (read (fd, hdr, sizeof hdr) > 0)
    ;
  close (fd);
  free (img);
  return NULL;
}

/* Paced: one message per write, due at start + i / rate, stamped when written.  */
static void
sender_paced (uint64_t count)
{
  int fd = connect_to (0);
  uint8_t frame[14 + 65536];
  size_t hl = ws_frame_header (frame, 1, args.size, mask_key);
  uint64_t i, start, period = 1000000000u / args.rate;

  if (args.size > 65536)
    bench_die ("--rate supports --size up to 65536");
  start = bench_now_ns () + 1000000;
  printf ("start_ns=%llu\n", (unsigned long long) start);
  for (i = 0; i < count; i++)
    {
      uint64_t due = start + i * period;

      if (bench_now_ns () < due)
        bench_sleep_until (due);
      bench_fill_payload (frame + hl, args.size);
      bench_stamp (frame + hl, args.size, bench_now_ns ());
      ws_frame_mask (frame + hl, args.size, mask_key, 0);
      write_all (fd, frame, hl + args.size);
    }
  shutdown (fd, SHUT_WR);
  while (read (fd, frame, sizeof frame) > 0)
    ;
  close (fd);
}

static int
run_send (void)
{
  struct sender *s = calloc ((size_t) args.conns, sizeof *s);
  uint64_t start;
  int i;

  if (args.rate)
    {
      if (args.conns != 1)
        bench_die ("--rate needs --conns 1");
      sender_paced (args.count);
    }
  else
    {
      start = bench_now_ns ();
      printf ("start_ns=%llu\n", (unsigned long long) start);
      for (i = 0; i < args.conns; i++)
        {
          s[i].count = args.count / (uint64_t) args.conns
                       + ((uint64_t) i < args.count % (uint64_t) args.conns);
          pthread_create (&s[i].th, NULL, sender_batched, &s[i]);
        }
      for (i = 0; i < args.conns; i++)
        pthread_join (s[i].th, NULL);
    }
  printf ("sent=%llu\nend_ns=%llu\n", (unsigned long long) args.count,
          (unsigned long long) bench_now_ns ());
  bench_report_usage ();
  return 0;
}

/* ---- bcast --------------------------------------------------------------------------------- */

static int
run_bcast (void)
{
  int lfd = listen_any (), ep = epoll_create1 (0), i, n, live;
  int *fds = calloc ((size_t) args.conns, sizeof *fds);
  uint64_t *left = calloc ((size_t) args.conns, sizeof *left);
  size_t *pos = calloc ((size_t) args.conns, sizeof *pos);
  uint8_t hdr[14];
  size_t hl = ws_frame_header (hdr, args.binary ? 2 : 1, args.size, NULL);
  size_t flen = hl + args.size, per = flen >= BATCH ? 1 : BATCH / flen;
  uint8_t *img = bench_xmalloc (per * flen);
  struct epoll_event ev, evs[256];
  uint64_t start;

  for (i = 0; i < (int) per; i++)
    {
      memcpy (img + (size_t) i * flen, hdr, hl);
      bench_fill_payload (img + (size_t) i * flen + hl, args.size);
    }
  for (i = 0; i < args.conns; i++)
    {
      fds[i] = accept (lfd, NULL, NULL);
      if (fds[i] < 0)
        bench_die ("accept: %s", strerror (errno));
      set_nonblock (fds[i]);
      left[i] = args.count;
      ev.events = EPOLLOUT | EPOLLIN;
      ev.data.u32 = (uint32_t) i;
      epoll_ctl (ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
  start = bench_now_ns ();
  printf ("start_ns=%llu\n", (unsigned long long) start);
  /* Writes until every subscriber has all frames, then waits for each to hang up (it has read
     everything by then).  pos[i] is the offset within the current batch.  */
  live = args.conns;
  while (live > 0)
    {
      n = epoll_wait (ep, evs, 256, -1);
      for (i = 0; i < n; i++)
        {
          uint32_t k = evs[i].data.u32;

          if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            {
              if (left[k] > 0)
                bench_die ("subscriber %u hung up early", k);
              epoll_ctl (ep, EPOLL_CTL_DEL, fds[k], NULL);
              close (fds[k]);
              live--;
              continue;
            }
          while (left[k] > 0)
            {
              uint64_t frames = left[k] < per ? left[k] : per;
              size_t blen = (size_t) frames * flen;
              ssize_t w = write (fds[k], img + pos[k], blen - pos[k]);

              if (w < 0)
                {
                  if (errno == EAGAIN)
                    break;
                  bench_die ("write: %s", strerror (errno));
                }
              pos[k] += (size_t) w;
              if (pos[k] == blen)
                {
                  left[k] -= frames;
                  pos[k] = 0;
                }
            }
          if (left[k] == 0)
            {
              ev.events = EPOLLIN;
              ev.data.u32 = k;
              epoll_ctl (ep, EPOLL_CTL_MOD, fds[k], &ev);
            }
        }
    }
  printf ("sent=%llu\nend_ns=%llu\n", (unsigned long long) args.count * (uint64_t) args.conns,
          (unsigned long long) bench_now_ns ());
  bench_report_usage ();
  return 0;
}

/* ---- sub ----------------------------------------------------------------------------------- */

enum sub_state { SUB_IDLE, SUB_CONNECTING, SUB_HANDSHAKE, SUB_OPEN, SUB_DONE };

struct sub
{
  int fd;
  enum sub_state st;
  char resp[1024];
  size_t rlen;
  struct ws_parser p;
};

#define MAX_INFLIGHT 64

static int
run_sub (void)
{
  struct sub *s = calloc ((size_t) args.conns, sizeof *s);
  uint8_t *buf = bench_xmalloc (RDBUF);
  struct epoll_event ev, evs[256];
  int ep = epoll_create1 (0), next = 0, inflight = 0, open_n = 0, done = 0, i, n;
  uint64_t t_connect0 = bench_now_ns (), t_connected = 0, total = 0;

  if (!s)
    bench_die ("out of memory");
  while (done < args.conns)
    {
      /* Bounded connects in flight: a burst of thousands of SYNs would overflow the listen
         backlog and turn into one-second retransmits, measuring the kernel, not the server.  */
      while (next < args.conns && inflight < MAX_INFLIGHT)
        {
          s[next].fd = connect_to (1);
          s[next].st = SUB_CONNECTING;
          ws_parser_init (&s[next].p);
          ev.events = EPOLLOUT | EPOLLIN;
          ev.data.u32 = (uint32_t) next;
          epoll_ctl (ep, EPOLL_CTL_ADD, s[next].fd, &ev);
          next++;
          inflight++;
        }
      n = epoll_wait (ep, evs, 256, -1);
      for (i = 0; i < n; i++)
        {
          uint32_t k = evs[i].data.u32;
          struct sub *c = &s[k];

          if (c->st == SUB_CONNECTING)
            {
              int err = 0;
              socklen_t el = sizeof err;

              getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
              if (err)
                bench_die ("connect (subscriber %u): %s", k, strerror (err));
              ev.events = EPOLLIN;
              ev.data.u32 = k;
              epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
              if (args.handshake)
                {
                  if (args.deflate)
                    write_all (c->fd, (const uint8_t *) upgrade_req_deflate, sizeof upgrade_req_deflate - 1);
                  else
                    write_all (c->fd, (const uint8_t *) upgrade_req, sizeof upgrade_req - 1);
                  c->st = SUB_HANDSHAKE;
                  continue;
                }
              c->st = SUB_OPEN;
              inflight--;
              open_n++;
              continue;
            }
          for (;;)
            {
              ssize_t r = read (c->fd, buf, RDBUF);
              uint8_t *p = buf;
              size_t len;

              if (r < 0 && errno == EAGAIN)
                break;
              if (r < 0 && errno == EINTR)
                continue;
              if (r <= 0)
                bench_die ("subscriber %u: connection ended after %llu of %llu messages", k,
                           (unsigned long long) c->p.messages, (unsigned long long) args.count);
              len = (size_t) r;
              if (c->st == SUB_HANDSHAKE)
                {
                  char *end;
                  size_t take = len < sizeof c->resp - 1 - c->rlen ? len : sizeof c->resp - 1 - c->rlen;

                  memcpy (c->resp + c->rlen, p, take);
                  c->rlen += take;
                  c->resp[c->rlen] = 0;
                  end = strstr (c->resp, "\r\n\r\n");
                  if (!end)
                    {
                      if (c->rlen == sizeof c->resp - 1)
                        bench_die ("subscriber %u: handshake response too long", k);
                      continue;
                    }
                  if (strncmp (c->resp, "HTTP/1.1 101", 12) != 0)
                    bench_die ("subscriber %u: handshake refused: %.40s", k, c->resp);
                  if (args.deflate)
                    {
                      if (!strcasestr (c->resp, "\r\nSec-WebSocket-Extensions: permessage-deflate"))
                        bench_die ("subscriber %u: the server did not accept permessage-deflate", k);
                      write_all (c->fd, hello_deflated, sizeof hello_deflated);
                    }
                  /* Bytes after the response are already frames.  */
                  take = (size_t) (end + 4 - c->resp) - (c->rlen - take);
                  p += take;
                  len -= take;
                  c->st = SUB_OPEN;
                  inflight--;
                  open_n++;
                }
              if (len > 0 && c->st == SUB_OPEN)
                {
                  uint64_t before = c->p.messages;

                  if (ws_parser_feed (&c->p, p, len) < 0)
                    bench_die ("subscriber %u: protocol error", k);
                  if (c->p.messages != before)
                    {
                      uint64_t now = bench_now_ns ();

                      if (!first_ns)
                        first_ns = now;
                      last_ns = now;
                      total += c->p.messages - before;
                    }
                  if (c->p.closed && c->p.messages < args.count)
                    bench_die ("subscriber %u: closed by the server after %llu of %llu messages",
                               k, (unsigned long long) c->p.messages,
                               (unsigned long long) args.count);
                  if (args.count && c->p.messages >= args.count)
                    {
                      /* A polite goodbye (close 1000), so servers log no error.  */
                      static const uint8_t bye[] = { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8 };

                      /* The server may be gone already: nothing to report then.  */
                      if (args.handshake && write (c->fd, bye, sizeof bye) < 0)
                        c->st = SUB_DONE;
                      epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
                      close (c->fd);
                      c->st = SUB_DONE;
                      done++;
                      break;
                    }
                }
              if ((size_t) r < (size_t) RDBUF)
                break;
            }
        }
      if (args.count == 0 && open_n == args.conns && !t_connected)
        {
          t_connected = bench_now_ns ();
          printf ("connected=%d\nconnect_s=%.3f\n", open_n, (t_connected - t_connect0) / 1e9);
          fflush (stdout);
          bench_wait_stdin_eof ();
          break;
        }
    }
  printf ("recv=%llu\nfirst_ns=%llu\nlast_ns=%llu\n", (unsigned long long) total,
          (unsigned long long) first_ns, (unsigned long long) last_ns);
  bench_report_usage ();
  return 0;
}

int
main (int argc, char **argv)
{
  bench_parse_args (argc, argv, &args, USAGE);
  if (strcmp (args.mode, "sink") == 0)
    return run_sink ();
  if (strcmp (args.mode, "send") == 0)
    return run_send ();
  if (strcmp (args.mode, "bcast") == 0)
    return run_bcast ();
  if (strcmp (args.mode, "sub") == 0)
    return run_sub ();
  bench_die ("unknown mode %s", args.mode);
}
