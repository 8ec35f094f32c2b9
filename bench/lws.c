/* lws.c: the libwebsockets 4.1 side of the benchmarks: a minimal client and server written the
 * way the library's own examples do it (one service thread, writes in WRITEABLE callbacks).
 *
 *   lws sink  --count N [--conns K] [--latency]   server; counts whole messages; --count 0: until stdin EOF
 *   lws send  --port P --count N [--size S] [--conns K] [--rate R] [--latency]
 *                                                   K connections on one context, each writing its
 *                                                   share until lws_send_pipe_choked, then waiting
 *                                                   for WRITEABLE
 *   lws bcast --count N --conns S [--size S]      server; a ring of messages, each subscriber
 *                                                   writing from its own tail (lws's broadcast idiom)
 */
#define _GNU_SOURCE
#include "common.h"

#include <libwebsockets.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "lws sink|send|bcast [--port P] [--count N] [--size S] [--conns K] [--rate R] [--latency] [--binary]"
#define RING 4096

static struct bench_args args;
static struct lws_context *context;
static volatile int done;
static atomic_int stdin_closed;
static int failed;
static struct bench_lat lat;
static uint64_t received, received_bytes, first_ns, last_ns, start_ns;
static int established, closed_conns;

struct pss
{
  struct lws *wsi;
  uint64_t sent;       /* send: messages written; bcast: ring tail */
  uint64_t target;     /* send: this connection's share */
  uint64_t first_ns;   /* send (paced): first due time */
  uint8_t stamp[16];   /* sink: the first bytes of the current message */
  size_t stamp_len;
  lws_sorted_usec_list_t sul;
};

static uint8_t *wbuf;                  /* LWS_PRE + size: the message being written */
static uint8_t *ring;                  /* bcast: RING slots of LWS_PRE + size */
static uint64_t head;                  /* bcast: messages produced */
static struct pss **subs;              /* bcast: the subscribers */
static int nsubs;

static int
wtype (void)
{
  return args.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
}

/* ---- sink ---------------------------------------------------------------------------------- */

static int
sink_cb (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  struct pss *p = user;
  uint64_t now;

  switch (reason)
    {
    case LWS_CALLBACK_ESTABLISHED:
      established++;
      break;
    case LWS_CALLBACK_RECEIVE:
      /* The clock is read for the first and the last message only, and for each one when
         measuring latency (as in the other sinks).  */
      if (!first_ns)
        first_ns = bench_now_ns ();
      received_bytes += len;
      /* A message may arrive in several pieces (read boundaries, fragments): its stamp is
         gathered from the first bytes, the latency taken when the message is complete (as the
         other programs do).  */
      if (args.latency && p->stamp_len < sizeof p->stamp)
        {
          size_t k = sizeof p->stamp - p->stamp_len;

          if (k > len)
            k = len;
          memcpy (p->stamp + p->stamp_len, in, k);
          p->stamp_len += k;
        }
      if (lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0)
        {
          if (args.latency)
            {
              uint64_t t = bench_read_stamp (p->stamp, p->stamp_len);

              now = bench_now_ns ();
              last_ns = now;

              bench_lat_add (&lat, now > t ? now - t : 0);
            }
          p->stamp_len = 0;
          if (++received == args.count)
            {
              last_ns = bench_now_ns ();
              done = 1;
            }
        }
      break;
    case LWS_CALLBACK_CLOSED:
      closed_conns++;
      break;
    default:
      break;
    }
  return 0;
}

/* ---- send ---------------------------------------------------------------------------------- */

static void
paced_wake (lws_sorted_usec_list_t *sul)
{
  struct pss *p = lws_container_of (sul, struct pss, sul);

  lws_callback_on_writable (p->wsi);
}

static int
send_cb (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  struct pss *p = user;
  uint64_t period;

  (void) len;
  switch (reason)
    {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      p->wsi = wsi;
      /* The clock starts when every connection is up, as for the other programs.  */
      if (++established == args.conns)
        start_ns = bench_now_ns ();
      if (args.rate)
        p->first_ns = bench_now_ns () + 1000000;
      lws_callback_on_writable (wsi);
      break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      period = args.rate ? 1000000000u / args.rate : 0;
      while (p->sent < p->target && !lws_send_pipe_choked (wsi))
        {
          uint8_t *msg = wbuf + LWS_PRE;

          if (args.rate)
            {
              uint64_t due = p->first_ns + p->sent * period, now = bench_now_ns ();

              if (now < due)
                {
                  /* Not due yet: a timer asks for WRITEABLE again at the due time.  */
                  lws_sul_schedule (context, 0, &p->sul, paced_wake,
                                    (lws_usec_t) ((due - now) / 1000));
                  return 0;
                }
            }
          /* lws masks client frames in place, so the payload is written afresh each time.  */
          bench_fill_payload (msg, args.size);
          if (args.latency)
            bench_stamp (msg, args.size, bench_now_ns ());
          if (lws_write (wsi, msg, args.size, (enum lws_write_protocol) wtype ()) < (int) args.size)
            {
              fprintf (stderr, "lws: lws_write failed\n");
              failed = 1;
              return -1;
            }
          p->sent++;
        }
      if (p->sent < p->target || lws_send_pipe_choked (wsi))
        lws_callback_on_writable (wsi);
      break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      fprintf (stderr, "lws: connection error: %s\n", in ? (const char *) in : "");
      failed = 1;
      done = 1;
      break;
    case LWS_CALLBACK_CLIENT_CLOSED:
      /* The sink hangs up once it has every message.  */
      if (p->sent < p->target)
        {
          fprintf (stderr, "lws: closed after %llu of %llu messages\n",
                   (unsigned long long) p->sent, (unsigned long long) p->target);
          failed = 1;
        }
      lws_sul_cancel (&p->sul);
      if (++closed_conns == args.conns)
        done = 1;
      break;
    default:
      break;
    }
  return 0;
}

/* ---- bcast --------------------------------------------------------------------------------- */

static struct lws_protocols protocols[2];

/* Fills the ring up to RING messages ahead of the slowest subscriber.  */
static void
produce (void)
{
  uint64_t min = head;
  int i, added = 0;

  for (i = 0; i < nsubs; i++)
    if (subs[i] && subs[i]->sent < min)
      min = subs[i]->sent;
  while (head < args.count && head - min < RING)
    {
      bench_fill_payload (ring + (head % RING) * (LWS_PRE + args.size) + LWS_PRE, args.size);
      head++;
      added = 1;
    }
  if (added)
    lws_callback_on_writable_all_protocol (context, &protocols[0]);
}

static int
bcast_cb (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  struct pss *p = user;
  uint64_t before;

  (void) in; (void) len;
  switch (reason)
    {
    case LWS_CALLBACK_ESTABLISHED:
      p->wsi = wsi;
      p->sent = 0;
      subs[nsubs++] = p;
      if (++established == args.conns)
        {
          start_ns = bench_now_ns ();
          produce ();
        }
      break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (established < args.conns)
        break;
      before = p->sent;
      while (p->sent < head && !lws_send_pipe_choked (wsi))
        {
          uint8_t *slot = ring + (p->sent % RING) * (LWS_PRE + args.size);

          if (lws_write (wsi, slot + LWS_PRE, args.size, (enum lws_write_protocol) wtype ())
              < (int) args.size)
            {
              fprintf (stderr, "lws: lws_write failed\n");
              failed = 1;
              return -1;
            }
          p->sent++;
        }
      if (p->sent < head)
        lws_callback_on_writable (wsi);
      if (p->sent != before)
        produce ();
      break;
    case LWS_CALLBACK_CLOSED:
      {
        int i;

        if (p->sent < args.count)
          {
            fprintf (stderr, "lws: subscriber closed after %llu of %llu messages\n",
                     (unsigned long long) p->sent, (unsigned long long) args.count);
            failed = 1;
          }
        for (i = 0; i < nsubs; i++)
          if (subs[i] == p)
            subs[i] = NULL;
        if (++closed_conns == args.conns)
          done = 1;
      }
      break;
    default:
      break;
    }
  return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void *
stdin_watch (void *arg)
{
  (void) arg;
  bench_wait_stdin_eof ();
  atomic_store (&stdin_closed, 1);
  lws_cancel_service (context);
  return NULL;
}

int
main (int argc, char **argv)
{
  struct lws_context_creation_info info;
  int server, i;
  pthread_t th;
  long rss0 = 0;

  bench_parse_args (argc, argv, &args, USAGE);
  lws_set_log_level (LLL_ERR, NULL);
  memset (protocols, 0, sizeof protocols);
  protocols[0].name = "bench";
  protocols[0].rx_buffer_size = 65536;
  if (strcmp (args.mode, "sink") == 0)
    {
      protocols[0].callback = sink_cb;
      protocols[0].per_session_data_size = sizeof (struct pss);
      server = 1;
    }
  else if (strcmp (args.mode, "send") == 0)
    {
      protocols[0].callback = send_cb;
      protocols[0].per_session_data_size = sizeof (struct pss);
      server = 0;
    }
  else if (strcmp (args.mode, "bcast") == 0)
    {
      protocols[0].callback = bcast_cb;
      protocols[0].per_session_data_size = sizeof (struct pss);
      server = 1;
      ring = bench_xmalloc (RING * (LWS_PRE + args.size));
      subs = calloc ((size_t) args.conns, sizeof *subs);
    }
  else
    bench_die ("unknown mode %s", args.mode);
  if (args.rate && args.conns != 1)
    bench_die ("--rate needs --conns 1");
  wbuf = bench_xmalloc (LWS_PRE + args.size);

  memset (&info, 0, sizeof info);
  info.protocols = protocols;
  info.port = server ? 0 : CONTEXT_PORT_NO_LISTEN;
  info.iface = server ? "127.0.0.1" : NULL;
  info.options = 0;
  info.gid = -1;
  info.uid = -1;
  context = lws_create_context (&info);
  if (!context)
    bench_die ("lws_create_context failed");

  if (server)
    {
      struct lws_vhost *vh = lws_get_vhost_by_name (context, "default");

      rss0 = bench_rss_kb ();
      printf ("port=%d\nrss0_kb=%ld\n", vh ? lws_get_vhost_listen_port (vh) : -1, rss0);
      fflush (stdout);
      if (strcmp (args.mode, "sink") == 0)
        {
          pthread_create (&th, NULL, stdin_watch, NULL);
          pthread_detach (th);
        }
    }
  else
    {
      struct pss *conns = calloc ((size_t) args.conns, sizeof *conns);

      start_ns = bench_now_ns ();
      for (i = 0; i < args.conns; i++)
        {
          struct lws_client_connect_info cc;
          struct lws *wsi;

          memset (&cc, 0, sizeof cc);
          cc.context = context;
          cc.address = args.host;
          cc.port = args.port;
          cc.path = "/";
          cc.host = args.host;
          cc.origin = args.host;
          cc.local_protocol_name = "bench";
          cc.userdata = &conns[i];
          conns[i].target = args.count / (uint64_t) args.conns
                            + ((uint64_t) i < args.count % (uint64_t) args.conns);
          wsi = lws_client_connect_via_info (&cc);
          if (!wsi)
            bench_die ("lws_client_connect_via_info failed");
        }
    }

  while (!done && !failed && !atomic_load (&stdin_closed))
    if (lws_service (context, 0) < 0)
      break;

  if (strcmp (args.mode, "sink") == 0)
    {
      printf ("rss_kb=%ld\nconnections=%d\nrecv=%llu\nbytes=%llu\nfirst_ns=%llu\nlast_ns=%llu\n",
              bench_rss_kb (), established, (unsigned long long) received,
              (unsigned long long) received_bytes, (unsigned long long) first_ns,
              (unsigned long long) last_ns);
      bench_lat_report (&lat);
      if (args.count && received < args.count)
        failed = 1;
    }
  else if (strcmp (args.mode, "send") == 0)
    printf ("start_ns=%llu\nsent=%llu\nend_ns=%llu\n", (unsigned long long) start_ns,
            (unsigned long long) args.count,
            (unsigned long long) bench_now_ns ());
  else
    printf ("start_ns=%llu\nsent=%llu\nend_ns=%llu\n", (unsigned long long) start_ns,
            (unsigned long long) head * (uint64_t) args.conns,
            (unsigned long long) bench_now_ns ());
  bench_report_usage ();
  lws_context_destroy (context);
  if (failed)
    bench_die ("lws %s failed", args.mode);
  return 0;
}
