/* common.c: see common.h.  */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
