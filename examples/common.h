/* examples/common.h: the few pieces every sample program needs in the same
   way, so that each sample shows only what is its own:

   - a wake-up pipe that signal handlers and ws_api callbacks write to, and
     the main loop polls (wake, wait_wake);
   - Ctrl-C / SIGTERM handling that sets stop_requested and wakes the main
     loop (watch_stop_signals);
   - number arguments (parse_count, parse_range) and timestamps
     (print_timestamp);
   - splitting a file descriptor's input into lines (read_lines).

   Header only (static inline functions), so a sample still builds from its
   one .c file:  cc prog.c $(pkg-config --cflags --libs --static ws_api)
   A program defines PROGRAM (its name, for messages) before including it,
   with _GNU_SOURCE (pipe2).  */

#ifndef WS_EXAMPLES_COMMON_H
#define WS_EXAMPLES_COMMON_H

#ifndef PROGRAM
#error "define PROGRAM before including common.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Read end [0] polled by the main loop; write end [1] written by wake.  */
static int wake_pipe[2] = { -1, -1 };
/* Set by SIGINT or SIGTERM.  */
static volatile sig_atomic_t stop_requested;

/* Wakes the main loop with a byte saying why: from a signal handler or a
   callback.  Async-signal-safe.  A full pipe already holds a wake-up, so
   a failed write loses nothing.  */
static inline void
wake (char why)
{
  ssize_t n = write (wake_pipe[1], &why, 1);
  (void) n;
}

static inline void
on_stop_signal (int sig)
{
  (void) sig;
  stop_requested = 1;
  wake ('s');
}

/* Creates the wake-up pipe (non-blocking) and makes SIGINT and SIGTERM
   set stop_requested and wake ('s').  Returns 0, or -1 after printing why.  */
static inline int
watch_stop_signals (void)
{
  struct sigaction sa;

  if (pipe2 (wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    {
      perror (PROGRAM ": pipe");
      return -1;
    }
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  return 0;
}

/* Waits for a wake-up byte for up to TIMEOUT_MS (-1: forever) and returns
   it, 0 on timeout.  */
static inline char
wait_wake (int timeout_ms)
{
  struct pollfd pfd = { .fd = wake_pipe[0], .events = POLLIN };
  char why = 0;

  if (poll (&pfd, 1, timeout_ms) > 0 && read (wake_pipe[0], &why, 1) != 1)
    why = 0;
  return why;
}

/* Parses a decimal number argument; WHAT names it in the error message.
   Returns 0, or -1 after printing why.  */
static inline int
parse_count (const char *arg, const char *what, unsigned long long *out)
{
  char *end;

  errno = 0;
  *out = strtoull (arg, &end, 10);
  if (errno || end == arg || *end || arg[0] == '-')
    {
      fprintf (stderr, PROGRAM ": invalid %s: %s\n", what, arg);
      return -1;
    }
  return 0;
}

/* Like parse_count, and the number must be within MIN..MAX.  */
static inline int
parse_range (const char *arg, const char *what, unsigned long long min,
             unsigned long long max, unsigned long long *out)
{
  if (parse_count (arg, what, out) < 0)
    return -1;
  if (*out < min || *out > max)
    {
      fprintf (stderr, PROGRAM ": %s %s is not within %llu..%llu\n", what,
               arg, min, max);
      return -1;
    }
  return 0;
}

/* Writes "2026-11-25T10:00:00.123+0000 " (local time) to F.  */
static inline void
print_timestamp (FILE *f)
{
  struct timespec ts;
  struct tm tm;
  char date[32], zone[8];

  clock_gettime (CLOCK_REALTIME, &ts);
  localtime_r (&ts.tv_sec, &tm);
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  strftime (zone, sizeof zone, "%z", &tm);
  fprintf (f, "%s.%03ld%s ", date, ts.tv_nsec / 1000000L, zone);
}

/* Lines read from a file descriptor as they come, of any length.  Start
   with { NULL, 0, 0 }; free buf at the end.  */
struct line_reader
{
  char *buf;
  size_t len, cap;
};

/* Called for each line, without its "\n" (or "\r\n"); returns < 0 to
   stop reading.  */
typedef int (*line_fn) (const char *line, size_t len, void *arg);

/* Reads what FD has now (one read, so a poll loop stays responsive) and
   calls ON_LINE for every complete line; at the end of input, also for a
   last line without a newline.  read(2), not stdio: poll must see every
   byte not yet handled.  Returns 1 while input goes on, 0 at its end (or
   on a read error), -1 when ON_LINE asked to stop, -2 when out of memory
   (printed).  */
static inline int
read_lines (struct line_reader *r, int fd, line_fn on_line, void *arg)
{
  ssize_t n;
  char *start, *nl;

  if (r->cap - r->len < 65536)
    {
      size_t cap = r->cap ? r->cap * 2 : 131072;
      char *p = realloc (r->buf, cap);

      if (!p)
        {
          fprintf (stderr, PROGRAM ": out of memory reading input\n");
          return -2;
        }
      r->buf = p;
      r->cap = cap;
    }
  n = read (fd, r->buf + r->len, r->cap - r->len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return 1;
  if (n <= 0)
    {
      size_t len = r->len;

      /* A last line without a newline is a line too.  */
      r->len = 0;
      if (len && on_line (r->buf, len, arg) < 0)
        return -1;
      return 0;
    }
  r->len += (size_t) n;
  start = r->buf;
  while ((nl = memchr (start, '\n', r->len - (size_t) (start - r->buf))))
    {
      size_t len = (size_t) (nl - start);

      if (len && start[len - 1] == '\r')
        len--;
      if (on_line (start, len, arg) < 0)
        return -1;
      start = nl + 1;
    }
  r->len -= (size_t) (start - r->buf);
  memmove (r->buf, start, r->len);
  return 1;
}

#endif /* WS_EXAMPLES_COMMON_H */
