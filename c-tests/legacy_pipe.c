/* The 2016 server's received-messages pipe, read by a plain read () loop: every message
   arrives whole and in order, each followed by "\n" (empty, 1023/1024/1025 bytes, one larger
   than the pipe itself, bytes that are not UTF-8); several clients at once keep their own order;
   a reader that stalls until the pipe is full loses nothing once it reads again (the server
   stops reading from the client instead); shutdown ends the pipe with end of file.  */

/* F_GETPIPE_SZ */
#define _GNU_SOURCE

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <ws_api/client.h>
#include <ws_api/server.h>

/* What has been read from the pipe and not yet taken as lines.  */
typedef struct reader
{
  int fd;
  char *buf;
  size_t len, cap;
  size_t lines;                 /* lines taken so far */
} reader;

/* One read () call into R's buffer; answers 0 at end of file.  */
static int
read_more (reader *r)
{
  ssize_t n;

  if (r->cap - r->len < 65536)
    {
      r->cap = r->cap * 2 + 65536;
      r->buf = realloc (r->buf, r->cap);
      CHECK (r->buf != NULL);
    }
  do
    n = read (r->fd, r->buf + r->len, r->cap - r->len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    FAIL ("read: %s", strerror (errno));
  r->len += (size_t) n;
  return n > 0;
}

/* The next line, without its "\n", copied into a malloc'ed, NUL-terminated string (its length
   in *LEN); fails the test at end of file.  */
static char *
next_line (reader *r, size_t *len)
{
  char *nl, *line;
  size_t n;

  while ((nl = memchr (r->buf, '\n', r->len)) == NULL)
    if (!read_more (r))
      FAIL ("end of file after %zu lines (%zu bytes pending)", r->lines, r->len);
  n = (size_t) (nl - r->buf);
  line = malloc (n + 1);
  CHECK (line != NULL);
  memcpy (line, r->buf, n);
  line[n] = '\0';
  memmove (r->buf, nl + 1, r->len - n - 1);
  r->len -= n + 1;
  r->lines++;
  *len = n;
  return line;
}

static void
expect_line (reader *r, const char *expected)
{
  size_t len;
  char *line = next_line (r, &len);

  if (len != strlen (expected) || memcmp (line, expected, len) != 0)
    FAIL ("line %zu: got %zu bytes \"%.60s\", expected %zu bytes \"%.60s\"", r->lines, len,
          line, strlen (expected), expected);
  free (line);
}

/* A message of LEN bytes, made of letters depending on SEED.  */
static char *
make_msg (size_t len, unsigned seed)
{
  char *m = malloc (len + 1);
  size_t i;

  CHECK (m != NULL);
  for (i = 0; i < len; i++)
    m[i] = (char) ('a' + (i + seed) % 26);
  m[len] = '\0';
  return m;
}

static int
new_client (int port)
{
  int msgqid = 0, service_pid = 0;

  CHECK_INT (websocket_client_create (NULL, "127.0.0.1", port, "/", 0, NULL, NULL, NULL,
                                      &msgqid, &service_pid), 0);
  CHECK (msgqid > 0);
  CHECK_INT (service_pid, msgqid);
  return msgqid;
}

/* Sizes around the 2016 slot of 1024 bytes, an empty message, one larger than a pipe's
   buffer, and bytes that are not UTF-8 (sent as a binary frame, written to the pipe as is).  */
static void
check_sizes (int port, reader *r)
{
  static const size_t sizes[] = { 0, 1, 1023, 1024, 1025, 200000 };
  static char not_utf8[] = "caf\xe9 \xff\xfe end";
  char *msgs[sizeof sizes / sizeof sizes[0]];
  size_t i;
  int c = new_client (port);

  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    {
      msgs[i] = make_msg (sizes[i], (unsigned) i);
      CHECK_INT (websocket_client_send_msg (msgs[i], c, port), 0);
    }
  CHECK_INT (websocket_client_send_msg (not_utf8, c, port), 0);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    {
      expect_line (r, msgs[i]);
      free (msgs[i]);
    }
  expect_line (r, not_utf8);
  websocket_client_disconnect (c);
}

/* Several clients sending at once: each client's messages stay in its order.  */
static void
check_clients (int port, reader *r)
{
  enum { N_CLIENTS = 4 };
  unsigned per_client = test_scaled (500, 50);
  int c[N_CLIENTS];
  unsigned next[N_CLIENTS] = { 0 };
  unsigned i, k, total;
  char msg[64];

  for (k = 0; k < N_CLIENTS; k++)
    c[k] = new_client (port);
  for (i = 0; i < per_client; i++)
    for (k = 0; k < N_CLIENTS; k++)
      {
        snprintf (msg, sizeof msg, "client %u message %u", k, i);
        CHECK_INT (websocket_client_send_msg (msg, c[k], port), 0);
      }
  for (total = 0; total < N_CLIENTS * per_client; total++)
    {
      size_t len;
      unsigned ck, ci;
      char *line = next_line (r, &len);

      if (sscanf (line, "client %u message %u", &ck, &ci) != 2 || ck >= N_CLIENTS)
        FAIL ("unexpected line \"%.60s\"", line);
      if (ci != next[ck])
        FAIL ("client %u: message %u arrived where %u was expected", ck, ci, next[ck]);
      next[ck]++;
      free (line);
    }
  for (k = 0; k < N_CLIENTS; k++)
    websocket_client_disconnect (c[k]);
}

/* Set by the log handler when the server says it paused reading for a full pipe.  */
static int pipe_stalled;

static void
stall_logged (ws_log_level lvl, const char *msg, void *user)
{
  (void) lvl;
  (void) user;
  if (strstr (msg, "pipe is full") != NULL)
    {
      test_lock ();
      pipe_stalled = 1;
      test_signal ();
      test_unlock ();
    }
}

/* The reader stalls until the pipe is full; the client keeps sending far more than the pipe
   and the server's buffer hold.  Once the reader reads again, every message arrives, in
   order.  */
static void
check_stalled_reader (int port, reader *r)
{
  /* 4 MB: four times the server's in-memory limit (1 MiB) plus the pipe.  */
  unsigned n = test_scaled (4000, 1500);
  size_t msg_len = 1000;
  int pipe_size = fcntl (r->fd, F_GETPIPE_SZ);
  int c = new_client (port);
  unsigned i;
  int avail = 0;

  CHECK (pipe_size > 0);
  CHECK_INT (r->len, 0);
  for (i = 0; i < n; i++)
    {
      char *m = make_msg (msg_len, i);
      snprintf (m, 16, "%010u", i);
      m[10] = ' ';
      CHECK_INT (websocket_client_send_msg (m, c, port), 0);
      free (m);
    }
  /* Wait, without reading, until the pipe is full: the server's writer is then blocked,
     its in-memory FIFO grows past 1 MiB and the server pauses reading from the client (it
     logs that), so everything else piles up in TCP.  */
  WAIT_UNTIL (pipe_stalled);
  CHECK (ioctl (r->fd, FIONREAD, &avail) == 0);
  CHECK (avail > 0);
  for (i = 0; i < n; i++)
    {
      size_t len;
      unsigned got;
      char *line = next_line (r, &len);
      char *expected = make_msg (msg_len, i);

      snprintf (expected, 16, "%010u", i);
      expected[10] = ' ';
      if (len != msg_len || sscanf (line, "%u", &got) != 1 || got != i
          || memcmp (line, expected, msg_len) != 0)
        FAIL ("after the stall, line %u: got %zu bytes \"%.20s\"", i, len, line);
      free (expected);
      free (line);
    }
  websocket_client_disconnect (c);
}

/* A reader that closes its end: the server must neither die of SIGPIPE (a C program does not
   ignore it) nor hang at shutdown; the messages have nowhere to go and are discarded.  */
static void
check_reader_gone (void)
{
  int fd = -1, msgqid, service_pid, port, c, i;
  static char line[] = "nobody reads this";

  CHECK_INT (websocket_server_create (NULL, 0, 0, NULL, NULL, NULL, &fd, &msgqid, &service_pid),
             0);
  port = ws_legacy_local_port (service_pid);
  close (fd);
  c = new_client (port);
  for (i = 0; i < 100; i++)
    CHECK_INT (websocket_client_send_msg (line, c, port), 0);
  /* Returns after the server answered the close, so it has read (and tried to write) every
     message by then.  */
  websocket_client_disconnect (c);
  websocket_server_shutdown (service_pid);
}

int
main (void)
{
  int fd = -1, msgqid = 0, service_pid = 0, port;
  reader r = { 0 };

  CHECK_INT (websocket_server_create (NULL, 0, 0, NULL, NULL, NULL, &fd, &msgqid, &service_pid),
             0);
  CHECK (fd >= 0);
  CHECK (msgqid > 0);
  CHECK_INT (service_pid, msgqid);
  port = ws_legacy_local_port (service_pid);
  CHECK (port > 0 && port <= 65535);
  r.fd = fd;

  check_sizes (port, &r);
  check_clients (port, &r);
  ws_set_log_handler (stall_logged, NULL, WS_LOG_INFO);
  check_stalled_reader (port, &r);
  ws_set_log_handler (NULL, NULL, WS_LOG_INFO);

  websocket_server_shutdown (service_pid);
  /* Nothing was left over, and the pipe ends.  */
  CHECK_INT (r.len, 0);
  CHECK_INT (read_more (&r), 0);
  CHECK_INT (r.len, 0);
  close (fd);
  free (r.buf);

  check_reader_gone ();
  printf ("ok: %zu lines\n", r.lines);
  return 0;
}
