/* common.c: see common.h.  */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
bench_die (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fputs ("bench: error: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (1);
}

void *
bench_xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);

  if (!p)
    bench_die ("out of memory (%zu bytes)", n);
  return p;
}

static uint64_t
parse_u64 (const char *s, const char *what)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || end == s || *end)
    bench_die ("bad %s: %s", what, s);
  return v;
}

void
bench_parse_args (int argc, char **argv, struct bench_args *a, const char *usage)
{
  static const struct option opts[] = {
    { "host", required_argument, NULL, 'h' },
    { "port", required_argument, NULL, 'p' },
    { "count", required_argument, NULL, 'n' },
    { "size", required_argument, NULL, 's' },
    { "conns", required_argument, NULL, 'c' },
    { "rate", required_argument, NULL, 'r' },
    { "latency", no_argument, NULL, 'l' },
    { "no-handshake", no_argument, NULL, 'H' },
    { "binary", no_argument, NULL, 'b' },
    { "upgrade", no_argument, NULL, 'u' },
    { "corpus", required_argument, NULL, 'C' },
    { "compression", required_argument, NULL, 'z' },
    { "deflate", no_argument, NULL, 'D' },
    { NULL, 0, NULL, 0 }
  };
  int c;

  memset (a, 0, sizeof *a);
  a->host = "127.0.0.1";
  a->size = 200;
  a->conns = 1;
  a->handshake = 1;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    {
      switch (c)
        {
        case 'h': a->host = optarg; break;
        case 'p': a->port = (int) parse_u64 (optarg, "port"); break;
        case 'n': a->count = parse_u64 (optarg, "count"); break;
        case 's': a->size = parse_u64 (optarg, "size"); break;
        case 'c': a->conns = (int) parse_u64 (optarg, "conns"); break;
        case 'r': a->rate = parse_u64 (optarg, "rate"); break;
        case 'l': a->latency = 1; break;
        case 'H': a->handshake = 0; break;
        case 'b': a->binary = 1; break;
        case 'u': a->upgrade = 1; break;
        case 'C': a->corpus = optarg; break;
        case 'z': a->compression = (int) parse_u64 (optarg, "compression"); break;
        case 'D': a->deflate = 1; break;
        default:
          fprintf (stderr, "usage: %s\n", usage);
          exit (2);
        }
    }
  if (optind != argc - 1)
    {
      fprintf (stderr, "usage: %s\n", usage);
      exit (2);
    }
  a->mode = argv[optind];
  if (a->conns < 1)
    bench_die ("--conns must be at least 1");
  if (a->compression > 9)
    bench_die ("--compression is a zlib level, 0 (off) to 9");
  if (a->latency && a->size < 16)
    bench_die ("--latency needs --size of at least 16 (the time stamp)");
}

uint64_t
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void
bench_fill_payload (uint8_t *buf, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = (uint8_t) ('a' + i % 26);
}

void
bench_stamp (uint8_t *buf, size_t len, uint64_t ns)
{
  static const char hex[] = "0123456789abcdef";
  int i;

  if (len < 16)
    return;
  for (i = 15; i >= 0; i--)
    {
      buf[i] = (uint8_t) hex[ns & 15];
      ns >>= 4;
    }
}

uint64_t
bench_read_stamp (const uint8_t *buf, size_t len)
{
  uint64_t v = 0;
  int i;

  if (len < 16)
    return 0;
  for (i = 0; i < 16; i++)
    {
      uint8_t ch = buf[i];

      v = (v << 4) | (uint64_t) (ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
  return v;
}

void
bench_lat_add (struct bench_lat *l, uint64_t ns)
{
  if (l->n == l->cap)
    {
      l->cap = l->cap ? l->cap * 2 : 65536;
      l->v = realloc (l->v, l->cap * sizeof *l->v);
      if (!l->v)
        bench_die ("out of memory (latency samples)");
    }
  l->v[l->n++] = ns;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

static double
pct (const struct bench_lat *l, double p)
{
  size_t i = (size_t) (p * (double) (l->n - 1) + 0.5);

  return (double) l->v[i] / 1000.0;
}

void
bench_lat_report (struct bench_lat *l)
{
  if (l->n == 0)
    return;
  qsort (l->v, l->n, sizeof *l->v, cmp_u64);
  printf ("lat_samples=%zu\nlat_p50_us=%.1f\nlat_p99_us=%.1f\nlat_p999_us=%.1f\nlat_max_us=%.1f\n",
          l->n, pct (l, 0.50), pct (l, 0.99), pct (l, 0.999), pct (l, 1.0));
}

static long
status_kb (const char *key)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  size_t kl = strlen (key);
  long kb = -1;

  if (!f)
    return -1;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, key, kl) == 0)
      {
        kb = strtol (line + kl, NULL, 10);
        break;
      }
  fclose (f);
  return kb;
}

long
bench_rss_kb (void)
{
  return status_kb ("VmRSS:");
}

void
bench_report_usage (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  /* VmHWM, not ru_maxrss: Linux carries ru_maxrss over execve, so a program started by a large
     harness would report the harness's peak.  */
  printf ("cpu_s=%.3f\nmaxrss_kb=%ld\n",
          (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
          + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
          status_kb ("VmHWM:"));
}


void
bench_sleep_until (uint64_t ns)
{
  struct timespec ts;

  ts.tv_sec = (time_t) (ns / 1000000000u);
  ts.tv_nsec = (long) (ns % 1000000000u);
  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

void
bench_wait_stdin_eof (void)
{
  char buf[256];
  ssize_t r;

  do
    r = read (0, buf, sizeof buf);
  while (r > 0 || (r < 0 && errno == EINTR));
}

void
bench_corpus_load (const char *path, struct bench_corpus *c)
{
  FILE *f = fopen (path, "rb");
  long size;
  size_t i, cap = 1024;
  char *p, *end;

  if (!f)
    bench_die ("corpus %s: %s", path, strerror (errno));
  if (fseek (f, 0, SEEK_END) != 0 || (size = ftell (f)) < 0 || fseek (f, 0, SEEK_SET) != 0)
    bench_die ("corpus %s: cannot size it", path);
  memset (c, 0, sizeof *c);
  c->data = bench_xmalloc ((size_t) size + 1);
  if (fread (c->data, 1, (size_t) size, f) != (size_t) size)
    bench_die ("corpus %s: short read", path);
  fclose (f);
  c->data[size] = '\n';
  c->line = bench_xmalloc (cap * sizeof *c->line);
  c->len = bench_xmalloc (cap * sizeof *c->len);
  for (p = c->data, end = c->data + size; p < end; p++)
    {
      char *nl = memchr (p, '\n', (size_t) (end + 1 - p));

      if (c->n == cap)
        {
          cap *= 2;
          c->line = realloc (c->line, cap * sizeof *c->line);
          c->len = realloc (c->len, cap * sizeof *c->len);
          if (!c->line || !c->len)
            bench_die ("out of memory (corpus)");
        }
      c->line[c->n] = (const uint8_t *) p;
      c->len[c->n] = (size_t) (nl - p);
      c->bytes += c->len[c->n];
      c->n++;
      p = nl;
    }
  for (i = 0; i < c->n; i++)
    if (c->len[i] == 0)
      bench_die ("corpus %s: line %zu is empty", path, i + 1);
  if (c->n == 0)
    bench_die ("corpus %s holds no line", path);
}

void
bench_report_tcp_bytes (void)
{
  uint64_t rx, tx;
  int sockets;

  bench_tcp_bytes (&rx, &tx, &sockets);
  printf ("tcp_rx_bytes=%llu\ntcp_tx_bytes=%llu\ntcp_sockets=%d\n", (unsigned long long) rx,
          (unsigned long long) tx, sockets);
}

void
bench_tcp_bytes (uint64_t *rxp, uint64_t *txp, int *socketsp)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  uint64_t rx = 0, tx = 0;
  int sockets = 0;

  if (!d)
    bench_die ("/proc/self/fd: %s", strerror (errno));
  while ((e = readdir (d)) != NULL)
    {
      int fd = atoi (e->d_name), type = 0;
      struct stat st;
      struct tcp_info ti;
      socklen_t tl = sizeof type, il = sizeof ti;

      if (e->d_name[0] == '.' || fd == dirfd (d) || fstat (fd, &st) != 0 || !S_ISSOCK (st.st_mode))
        continue;
      if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
        continue;
      memset (&ti, 0, sizeof ti);
      if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &ti, &il) != 0)
        continue;
      if (ti.tcpi_state == 10)  /* TCP_LISTEN (the kernel's tcp_states.h): no traffic */
        continue;
      /* A kernel too old for these fields reports a short
         structure, and the figures are then missing rather than wrong.  */
      if (il < offsetof (struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        bench_die ("TCP_INFO has no byte counters on this kernel");
      rx += ti.tcpi_bytes_received;
      tx += ti.tcpi_bytes_acked;
      sockets++;
    }
  closedir (d);
  *rxp = rx;
  *txp = tx;
  *socketsp = sockets;
}
