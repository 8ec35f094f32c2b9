/* common.h: helpers shared by the benchmark programs (timing, arguments, reports, latency).
 *
 * Every program prints its results on stdout as `key=value` lines; servers print `port=N` first
 * (and flush) so that the harness (bench/run.py) can start the peer.  Times are CLOCK_MONOTONIC
 * nanoseconds, which all processes of one machine share, so that a producer's first send and a
 * consumer's last receipt can be subtracted.  */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct bench_args
{
  const char *mode;       /* first positional argument: sink, send, bcast, sub ... */
  const char *host;       /* --host, default 127.0.0.1 */
  int port;               /* --port, 0 = any (servers) */
  uint64_t count;         /* --count: messages in total (sink: expected in total; 0 = until stdin EOF) */
  size_t size;            /* --size: payload bytes, default 200 */
  int conns;              /* --conns: client connections / subscribers, default 1 */
  uint64_t rate;          /* --rate: messages per second in total, 0 = as fast as possible */
  int latency;            /* --latency: payloads carry the send time; the sink reports percentiles */
  int handshake;          /* --no-handshake clears it (raw tool only) */
  int upgrade;            /* --upgrade: the raw sender does the HTTP upgrade first (raw tool only) */
  int binary;             /* --binary: binary frames instead of text */
  const char *corpus;     /* --corpus FILE: send its lines (bench/corpus.py) in turn instead of --size bytes */
  int compression;        /* --compression LEVEL: permessage-deflate at zlib level 1..9 (ws_api only); 0 off */
  int deflate;            /* --deflate: the raw subscriber offers permessage-deflate, requires it in the
                             answer and sends one compressed message (raw tool only) */
};

void bench_parse_args (int argc, char **argv, struct bench_args *a, const char *usage);
uint64_t bench_now_ns (void);
void bench_die (const char *fmt, ...) __attribute__ ((noreturn, format (printf, 1, 2)));
void *bench_xmalloc (size_t n);

/* The payload: printable ASCII (valid UTF-8, no '\n' because the 2016 pipe is line-based).  With
   a timestamp, its first 16 bytes are the send time in hex.  */
void bench_fill_payload (uint8_t *buf, size_t len);
void bench_stamp (uint8_t *buf, size_t len, uint64_t ns);
/* The time stamped in a payload, 0 if it is shorter than 16 bytes.  */
uint64_t bench_read_stamp (const uint8_t *buf, size_t len);

/* A corpus file (bench/corpus.py): its lines without their '\n', in file order.  */
struct bench_corpus
{
  char *data;
  const uint8_t **line;
  size_t *len;
  size_t n;
  uint64_t bytes;         /* sum of len[] */
};
void bench_corpus_load (const char *path, struct bench_corpus *c);

/* Bytes this process's TCP connections received and sent (acknowledged by the peer), summed over
   every open TCP socket of the process, as the kernel counts them (TCP_INFO: tcpi_bytes_received,
   tcpi_bytes_acked): what crossed the wire, WebSocket framing, handshakes and compression
   included, whichever library owns the sockets.  Read them while the connections are surely
   open (a sink: when its last message arrives, before the peer can close).  */
void bench_tcp_bytes (uint64_t *rx, uint64_t *tx, int *sockets);
/* Prints tcp_rx_bytes=, tcp_tx_bytes= and tcp_sockets= (bench_tcp_bytes now).  */
void bench_report_tcp_bytes (void);

/* Latency samples (nanoseconds); grows as needed.  */
struct bench_lat
{
  uint64_t *v;
  size_t n, cap;
};
void bench_lat_add (struct bench_lat *l, uint64_t ns);
void bench_lat_report (struct bench_lat *l);  /* prints lat_p50_us, lat_p99_us, lat_p999_us, lat_max_us */

/* Prints cpu_s (user + system of this process) and maxrss_kb.  */
void bench_report_usage (void);
/* Current resident set size of this process in KiB (from /proc/self/status).  */
long bench_rss_kb (void);
/* Sleeps until the absolute CLOCK_MONOTONIC time `ns` (pacing, not synchronisation).  */
void bench_sleep_until (uint64_t ns);
/* Waits until stdin reaches EOF (the harness closes it to end an idle server).  */
void bench_wait_stdin_eof (void);

#endif
