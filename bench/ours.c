/* ours.c: the ws_api side of the benchmarks, through the C API of ws_api.h.
 *
 *   ours sink  --count N [--conns K] [--latency] [--compression L]
 *                                                    server; counts on_receive; --count 0: until stdin EOF;
 *                                                    reports the bytes its TCP connections received
 *   ours send  --port P --count N [--size S | --corpus FILE] [--conns K] [--rate R] [--latency]
 *              [--compression L]                     K client contexts (one thread each) calling ws_send;
 *                                                    --corpus: the file's lines in turn (bench/corpus.py)
 *
 * --compression L (1..9) enables permessage-deflate at zlib level L (ws_options_set_compression);
 * both sides must have it for a connection to negotiate it.
 *   ours bcast --count N --conns S [--size S]      server; waits for S subscribers, ws_broadcast N times
 */
#define _GNU_SOURCE
#include "common.h"

#include <ws_api.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "ours sink|send|bcast [--port P] [--count N] [--size S] [--conns K] [--rate R] [--latency] [--binary] [--corpus FILE] [--compression L]"

static struct bench_args args;
static struct bench_corpus corpus;      /* send --corpus */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* Counters written on the I/O thread, read by the main thread under `mu` when woken.  */
static _Atomic uint64_t received;
static uint64_t received_bytes, first_ns, last_ns;
static uint64_t tcp_rx, tcp_tx;           /* the TCP byte counts when the last message arrived */
static int tcp_sockets = -1;
static int connected, closed_conns, failed;
static struct bench_lat lat;

static void
check (ws_status s, const char *what)
{
  if (s != WS_OK)
    bench_die ("%s: %s (%s)", what, ws_strerror (s), ws_last_error ());
}

static void
on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  (void) ctx; (void) conn; (void) user;
  pthread_mutex_lock (&mu);
  connected++;
  pthread_cond_broadcast (&cv);
  pthread_mutex_unlock (&mu);
}

static void
on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  (void) ctx; (void) conn; (void) code; (void) reason; (void) user;
  pthread_mutex_lock (&mu);
  closed_conns++;
  pthread_cond_broadcast (&cv);
  pthread_mutex_unlock (&mu);
}

static void
on_error (ws_context *ctx, ws_conn_id conn, ws_status status, const char *message, void *user)
{
  static atomic_int n;

  (void) ctx; (void) user;
  /* The first few only: a run with thousands of connections must not flood the log.  */
  if (atomic_fetch_add (&n, 1) < 5)
    fprintf (stderr, "ours: on_error conn %llu: %s: %s\n", (unsigned long long) conn,
             ws_strerror (status), message ? message : "");
}

/* The sink is one server context: one I/O thread calls this, so only the hand-over to the main
   thread needs the lock (once, at the end).  */
static int
sink_on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
                 ws_msg_type type, void *user)
{
  uint64_t n = atomic_fetch_add_explicit (&received, 1, memory_order_relaxed) + 1;

  (void) ctx; (void) conn; (void) type; (void) user;
  /* The clock is read for the first and the last message only (and for each one when measuring
     latency): a clock read per message would be a sizeable part of the sink's own cost.  */
  if (n == 1)
    first_ns = bench_now_ns ();
  received_bytes += len;
  if (args.latency)
    {
      uint64_t t = bench_read_stamp (data, len), now = bench_now_ns ();

      bench_lat_add (&lat, now > t ? now - t : 0);
      last_ns = now;
    }
  if (n == args.count)
    {
      last_ns = bench_now_ns ();
      /* Now, while the connection that carried it is surely open (the sender closes once it
         is done, and the engine then closes its socket).  */
      bench_tcp_bytes (&tcp_rx, &tcp_tx, &tcp_sockets);
      pthread_mutex_lock (&mu);
      pthread_cond_broadcast (&cv);
      pthread_mutex_unlock (&mu);
    }
  return 0;
}

static ws_options *
server_options (void)
{
  ws_options *o = ws_options_new (WS_MODE_SERVER);

  check (ws_options_set_address (o, "127.0.0.1"), "set_address");
  check (ws_options_set_port (o, 0), "set_port");
  check (ws_options_set_max_connections (o, 100000), "set_max_connections");
  if (args.compression)
    check (ws_options_set_compression (o, args.compression), "set_compression");
  return o;
}

static void *
stdin_watch (void *arg)
{
  (void) arg;
  bench_wait_stdin_eof ();
  pthread_mutex_lock (&mu);
  failed = failed ? failed : 2;  /* 2: ended by the harness */
  pthread_cond_broadcast (&cv);
  pthread_mutex_unlock (&mu);
  return NULL;
}

static int
run_sink (void)
{
  ws_callbacks cbs = { on_connect, sink_on_receive, NULL, on_close, on_error };
  ws_options *o = server_options ();
  ws_context *ctx;
  ws_stats st;
  pthread_t th;
  long rss0;
  uint64_t unsent = 0, got;

  check (ws_options_set_callbacks (o, &cbs, NULL), "set_callbacks");
  check (ws_context_create (o, &ctx), "context_create");
  ws_options_free (o);
  rss0 = bench_rss_kb ();
  printf ("port=%u\nrss0_kb=%ld\n", ws_local_port (ctx), rss0);
  fflush (stdout);
  /* --count 0 (idle server) ends when the harness closes stdin; otherwise stdin EOF before all
     messages arrived is a failure (the harness gave up).  */
  pthread_create (&th, NULL, stdin_watch, NULL);
  pthread_detach (th);
  pthread_mutex_lock (&mu);
  while (!failed && (args.count == 0 || received < args.count))
    pthread_cond_wait (&cv, &mu);
  got = received;
  pthread_mutex_unlock (&mu);
  printf ("rss_kb=%ld\nconnections=%d\n", bench_rss_kb (), connected);
  /* --count 0 (idle connections): now, while the connections are still open (destroying the
     context closes them).  */
  if (tcp_sockets < 0)
    bench_report_tcp_bytes ();
  else
    printf ("tcp_rx_bytes=%llu\ntcp_tx_bytes=%llu\ntcp_sockets=%d\n", (unsigned long long) tcp_rx,
            (unsigned long long) tcp_tx, tcp_sockets);
  memset (&st, 0, sizeof st);
  st.struct_size = sizeof st;
  ws_get_stats (ctx, &st);
  check (ws_context_destroy (ctx, 1000, &unsent), "context_destroy");
  printf ("recv=%llu\nbytes=%llu\nfirst_ns=%llu\nlast_ns=%llu\nerrors=%llu\n",
          (unsigned long long) got, (unsigned long long) received_bytes,
          (unsigned long long) first_ns, (unsigned long long) last_ns,
          (unsigned long long) st.errors);
  bench_lat_report (&lat);
  bench_report_usage ();
  if (args.count && got < args.count)
    bench_die ("received %llu of %llu messages", (unsigned long long) got,
               (unsigned long long) args.count);
  return 0;
}

/* ---- send ---------------------------------------------------------------------------------- */

struct sender
{
  pthread_t th;
  ws_context *ctx;
  uint64_t count;
  uint64_t first;             /* index of its first message among all (where --corpus starts) */
  uint64_t full;              /* WS_ERR_QUEUE_FULL answers */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int writable;               /* on_writable arrived since the last request */
  int up;                     /* on_connect arrived */
};

static void
sender_on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  struct sender *s = user;

  (void) ctx; (void) conn;
  pthread_mutex_lock (&s->mu);
  s->up = 1;
  pthread_cond_signal (&s->cv);
  pthread_mutex_unlock (&s->mu);
}

static void
sender_on_writable (ws_context *ctx, ws_conn_id conn, void *user)
{
  struct sender *s = user;

  (void) ctx; (void) conn;
  pthread_mutex_lock (&s->mu);
  s->writable = 1;
  pthread_cond_signal (&s->cv);
  pthread_mutex_unlock (&s->mu);
}

/* Queues one message; on a full queue, asks for on_writable and waits for it (the API's
   backpressure event), then tries again.  */
static void
send_one (struct sender *s, const uint8_t *msg, size_t len)
{
  ws_msg_type ty = args.binary ? WS_MSG_BINARY : WS_MSG_TEXT;

  for (;;)
    {
      ws_status r = ws_send (s->ctx, 0, msg, len, ty);

      if (r == WS_OK)
        return;
      if (r != WS_ERR_QUEUE_FULL)
        check (r, "ws_send");
      s->full++;
      pthread_mutex_lock (&s->mu);
      s->writable = 0;
      pthread_mutex_unlock (&s->mu);
      check (ws_request_writable (s->ctx, 0), "ws_request_writable");
      pthread_mutex_lock (&s->mu);
      while (!s->writable)
        pthread_cond_wait (&s->cv, &s->mu);
      pthread_mutex_unlock (&s->mu);
    }
}

static void *
sender_main (void *arg)
{
  struct sender *s = arg;
  uint8_t *msg = bench_xmalloc (args.size);
  uint64_t i;

  bench_fill_payload (msg, args.size);
  if (args.rate)
    {
      uint64_t period = 1000000000u / args.rate, start = bench_now_ns () + 1000000;

      printf ("start_ns=%llu\n", (unsigned long long) start);
      for (i = 0; i < s->count; i++)
        {
          uint64_t due = start + i * period;

          if (bench_now_ns () < due)
            bench_sleep_until (due);
          bench_stamp (msg, args.size, bench_now_ns ());
          send_one (s, msg, args.size);
        }
    }
  else if (corpus.n)
    /* Each connection starts at its own place in the corpus (its first message's index).  */
    for (i = 0; i < s->count; i++)
      {
        size_t k = (size_t) ((s->first + i) % corpus.n);

        send_one (s, corpus.line[k], corpus.len[k]);
      }
  else
    for (i = 0; i < s->count; i++)
      send_one (s, msg, args.size);
  free (msg);
  return NULL;
}

static int
run_send (void)
{
  struct sender *s = calloc ((size_t) args.conns, sizeof *s);
  char port[16];
  uint64_t start, end, full = 0, unsent_total = 0, payload = 0, first = 0;
  int i;

  if (args.rate && args.conns != 1)
    bench_die ("--rate needs --conns 1");
  if (args.corpus && (args.rate || args.latency))
    bench_die ("--corpus is for throughput runs (no --rate, no --latency)");
  if (args.corpus)
    bench_corpus_load (args.corpus, &corpus);
  snprintf (port, sizeof port, "%d", args.port);
  for (i = 0; i < args.conns; i++)
    {
      ws_callbacks cbs = { sender_on_connect, NULL, sender_on_writable, NULL, on_error };
      ws_options *o = ws_options_new (WS_MODE_CLIENT);

      pthread_mutex_init (&s[i].mu, NULL);
      pthread_cond_init (&s[i].cv, NULL);
      s[i].count = args.count / (uint64_t) args.conns
                   + ((uint64_t) i < args.count % (uint64_t) args.conns);
      s[i].first = first;
      first += s[i].count;
      if (args.compression)
        check (ws_options_set_compression (o, args.compression), "set_compression");
      check (ws_options_set_address (o, args.host), "set_address");
      check (ws_options_set_port (o, args.port), "set_port");
      check (ws_options_set_callbacks (o, &cbs, &s[i]), "set_callbacks");
      check (ws_context_create (o, &s[i].ctx), "context_create");
      ws_options_free (o);
    }
  /* The clock starts when every connection is up (ws_send would queue before that, but the
     other programs cannot, and connecting is scenario 5's business).  */
  for (i = 0; i < args.conns; i++)
    {
      pthread_mutex_lock (&s[i].mu);
      while (!s[i].up)
        pthread_cond_wait (&s[i].cv, &s[i].mu);
      pthread_mutex_unlock (&s[i].mu);
    }
  start = bench_now_ns ();
  if (!args.rate)
    printf ("start_ns=%llu\n", (unsigned long long) start);
  for (i = 0; i < args.conns; i++)
    pthread_create (&s[i].th, NULL, sender_main, &s[i]);
  for (i = 0; i < args.conns; i++)
    pthread_join (s[i].th, NULL);
  end = bench_now_ns ();
  for (i = 0; i < args.conns; i++)
    {
      uint64_t unsent = 0;

      check (ws_flush (s[i].ctx, 120000), "ws_flush");
      check (ws_context_destroy (s[i].ctx, 10000, &unsent), "context_destroy");
      unsent_total += unsent;
      full += s[i].full;
    }
  /* The payload bytes sent, so the sink's total can be checked against it.  */
  if (corpus.n)
    for (first = 0; first < args.count; first++)
      payload += corpus.len[first % corpus.n];
  else
    payload = args.count * (uint64_t) args.size;
  printf ("sent=%llu\nend_ns=%llu\nqueue_full=%llu\nunsent=%llu\npayload_bytes=%llu\n",
          (unsigned long long) args.count, (unsigned long long) end,
          (unsigned long long) full, (unsigned long long) unsent_total,
          (unsigned long long) payload);
  bench_report_usage ();
  if (unsent_total)
    bench_die ("%llu messages left unsent", (unsigned long long) unsent_total);
  return 0;
}

/* ---- bcast --------------------------------------------------------------------------------- */

static int
run_bcast (void)
{
  ws_callbacks cbs = { on_connect, NULL, NULL, on_close, on_error };
  ws_options *o = server_options ();
  ws_context *ctx;
  ws_stats st;
  uint8_t *msg = bench_xmalloc (args.size);
  uint64_t i, start, end, unsent = 0, waits = 0;
  /* The producer keeps at most `window` messages queued over all subscribers (checked every
     1024 broadcasts), so no single queue can reach `cap` and the slow-subscriber policy (which
     would drop or disconnect, as it should) never triggers.  */
  const uint64_t cap = 1u << 20, window = 1u << 19;

  bench_fill_payload (msg, args.size);
  check (ws_options_set_queue_capacity (o, cap), "set_queue_capacity");
  check (ws_options_set_callbacks (o, &cbs, NULL), "set_callbacks");
  check (ws_context_create (o, &ctx), "context_create");
  ws_options_free (o);
  printf ("port=%u\n", ws_local_port (ctx));
  fflush (stdout);
  pthread_mutex_lock (&mu);
  while (connected < args.conns)
    pthread_cond_wait (&cv, &mu);
  pthread_mutex_unlock (&mu);
  memset (&st, 0, sizeof st);
  st.struct_size = sizeof st;
  start = bench_now_ns ();
  printf ("start_ns=%llu\n", (unsigned long long) start);
  for (i = 0; i < args.count; i++)
    {
      /* The API has no "every queue below N" event, so the producer checks the queued count
         every 1024 messages and yields the CPU to the I/O thread while it is too far ahead.
         This is flow control for the benchmark, not synchronisation.  */
      if ((i & 1023) == 0)
        for (;;)
          {
            ws_get_stats (ctx, &st);
            if (st.messages_queued < window)
              break;
            waits++;
            usleep (50);
          }
      check (ws_broadcast (ctx, msg, args.size, args.binary ? WS_MSG_BINARY : WS_MSG_TEXT),
             "ws_broadcast");
    }
  check (ws_flush (ctx, 120000), "ws_flush");
  end = bench_now_ns ();
  /* Every subscriber hangs up once it has all messages.  */
  pthread_mutex_lock (&mu);
  while (closed_conns < args.conns)
    pthread_cond_wait (&cv, &mu);
  pthread_mutex_unlock (&mu);
  ws_get_stats (ctx, &st);
  check (ws_context_destroy (ctx, 1000, &unsent), "context_destroy");
  printf ("sent=%llu\nend_ns=%llu\nwaits=%llu\ndropped=%llu\n",
          (unsigned long long) st.messages_sent, (unsigned long long) end,
          (unsigned long long) waits, (unsigned long long) st.messages_dropped);
  bench_report_usage ();
  if (st.messages_dropped)
    bench_die ("%llu messages dropped", (unsigned long long) st.messages_dropped);
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
  bench_die ("unknown mode %s", args.mode);
}
