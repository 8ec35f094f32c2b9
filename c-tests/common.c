/* Shared helpers of the ws_api C tests (see common.h).  */

/* memmem.  */
#define _GNU_SOURCE

#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t test_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t test_cond;
static pthread_once_t test_cond_once = PTHREAD_ONCE_INIT;

static void
init_cond (void)
{
  pthread_condattr_t attr;

  /* Deadlines are measured on the monotonic clock: a wall-clock jump must not end a wait.  */
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&test_cond, &attr);
  pthread_condattr_destroy (&attr);
}

void
test_fail (const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  const char *last = ws_last_error ();

  fprintf (stderr, "%s:%d: FAIL: ", file, line);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n");
  if (last != NULL && last[0] != '\0')
    fprintf (stderr, "  (ws_last_error on this thread: %s)\n", last);
  fflush (stderr);
  fflush (stdout);
  /* _exit: the library's threads are still running; no atexit handler may race them.  */
  _exit (1);
}

int
test_under_valgrind (void)
{
  const char *v = getenv ("WS_UNDER_VALGRIND");

  return v != NULL && strcmp (v, "1") == 0;
}

unsigned
test_scale_divisor (void)
{
  const char *v = getenv ("WS_TEST_SCALE");

  if (v != NULL && atoi (v) > 0)
    return (unsigned) atoi (v);
  return test_under_valgrind () ? 5 : 1;
}

unsigned
test_time_factor (void)
{
  return test_under_valgrind () ? 8 : 1;
}

unsigned
test_scaled (unsigned n, unsigned min)
{
  unsigned s = n / test_scale_divisor ();

  return s < min ? min : s;
}

void
test_lock (void)
{
  pthread_once (&test_cond_once, init_cond);
  pthread_mutex_lock (&test_mutex);
}

void
test_unlock (void)
{
  pthread_mutex_unlock (&test_mutex);
}

void
test_signal (void)
{
  pthread_once (&test_cond_once, init_cond);
  pthread_cond_broadcast (&test_cond);
}

struct timespec
test_deadline (unsigned ms)
{
  struct timespec ts;
  uint64_t total = (uint64_t) ms * test_time_factor ();

  clock_gettime (CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t) (total / 1000);
  ts.tv_nsec += (long) (total % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L)
    {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
  return ts;
}

int
test_wait (const struct timespec *dl)
{
  int rc = pthread_cond_timedwait (&test_cond, &test_mutex, dl);

  return rc != ETIMEDOUT;
}

uint64_t
test_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

void
recorder_init (recorder *r, const char *name)
{
  memset (r, 0, sizeof *r);
  r->name = name;
}

void
recorder_free (recorder *r)
{
  size_t i;

  for (i = 0; i < r->n_msgs; i++)
    free (r->msgs[i].data);
  free (r->msgs);
  r->msgs = NULL;
  r->n_msgs = r->cap_msgs = 0;
}

/* Called with the lock held.  */
static void
check_ctx (recorder *r, ws_context *ctx)
{
  if (r->ctx != NULL && ctx != r->ctx)
    r->bad_context++;
}

static int
find_open (const recorder *r, ws_conn_id id)
{
  int i;

  for (i = 0; i < r->n_open; i++)
    if (r->open_conns[i] == id)
      return i;
  return -1;
}

static void
rec_on_connect (ws_context *ctx, ws_conn_id conn, void *user)
{
  recorder *r = user;

  test_lock ();
  check_ctx (r, ctx);
  /* Ids are never 0 and never reused within a context; they grow in practice, but the
     contract only promises uniqueness, which find_open and max_id_seen approximate.  */
  if (conn == 0 || find_open (r, conn) >= 0 || conn == r->last_close_conn)
    r->bad_id++;
  if (conn > r->max_id_seen)
    r->max_id_seen = conn;
  r->connects++;
  r->last_connect = conn;
  if (r->n_open < REC_MAX_CONNS)
    r->open_conns[r->n_open++] = conn;
  test_signal ();
  test_unlock ();
}

static int
rec_on_receive (ws_context *ctx, ws_conn_id conn, const uint8_t *data, size_t len,
                ws_msg_type type, void *user)
{
  recorder *r = user;
  int pause;
  int echo;

  test_lock ();
  check_ctx (r, ctx);
  if (find_open (r, conn) < 0)
    r->bad_id++;
  r->receives++;
  r->received_bytes += len;
  if (r->keep)
    {
      rec_msg *m;

      if (r->n_msgs == r->cap_msgs)
        {
          r->cap_msgs = r->cap_msgs ? r->cap_msgs * 2 : 64;
          r->msgs = realloc (r->msgs, r->cap_msgs * sizeof *r->msgs);
          if (r->msgs == NULL)
            FAIL ("out of memory");
        }
      m = &r->msgs[r->n_msgs++];
      m->conn = conn;
      m->type = type;
      size_t n = r->keep_prefix != 0 && len > r->keep_prefix ? r->keep_prefix : len;

      m->len = len;
      m->data = malloc (n + 1);
      if (m->data == NULL)
        FAIL ("out of memory");
      if (n > 0)
        memcpy (m->data, data, n);
      m->data[n] = '\0';
    }
  pause = r->pause_on_receive;
  echo = r->echo;
  test_signal ();
  test_unlock ();

  if (echo)
    {
      /* Sending from inside a callback is allowed by the contract.  */
      ws_status s = ws_send (ctx, conn, data, len, type);

      test_lock ();
      r->last_echo_status = s;
      test_signal ();
      test_unlock ();
    }
  return pause;
}

static void
rec_on_writable (ws_context *ctx, ws_conn_id conn, void *user)
{
  recorder *r = user;

  test_lock ();
  check_ctx (r, ctx);
  r->writables++;
  r->last_writable = conn;
  test_signal ();
  test_unlock ();
}

static void
rec_on_close (ws_context *ctx, ws_conn_id conn, uint16_t code, const char *reason, void *user)
{
  recorder *r = user;
  int i;

  test_lock ();
  check_ctx (r, ctx);
  i = find_open (r, conn);
  if (i < 0)
    r->bad_id++;              /* on_close without on_connect, or twice */
  else
    {
      memmove (&r->open_conns[i], &r->open_conns[i + 1],
               (size_t) (r->n_open - i - 1) * sizeof r->open_conns[0]);
      r->n_open--;
    }
  r->closes++;
  r->last_close_conn = conn;
  r->last_close_code = code;
  snprintf (r->last_close_reason, sizeof r->last_close_reason, "%s", reason ? reason : "(NULL)");
  test_signal ();
  test_unlock ();
}

static void
rec_on_error (ws_context *ctx, ws_conn_id conn, ws_status status, const char *message,
              void *user)
{
  recorder *r = user;

  test_lock ();
  check_ctx (r, ctx);
  r->errors++;
  r->last_error_conn = conn;
  r->last_error_status = status;
  snprintf (r->last_error_message, sizeof r->last_error_message, "%s",
            message ? message : "(NULL)");
  test_signal ();
  test_unlock ();
}

const ws_callbacks recorder_callbacks = {
  .on_connect = rec_on_connect,
  .on_receive = rec_on_receive,
  .on_writable = rec_on_writable,
  .on_close = rec_on_close,
  .on_error = rec_on_error,
};

ws_options *
server_options (recorder *r)
{
  ws_options *o = ws_options_new (WS_MODE_SERVER);

  CHECK (o != NULL);
  CHECK_OK (ws_options_set_address (o, "127.0.0.1"));
  CHECK_OK (ws_options_set_port (o, 0));
  if (r != NULL)
    CHECK_OK (ws_options_set_callbacks (o, &recorder_callbacks, r));
  return o;
}

ws_options *
client_options (recorder *r, uint16_t port)
{
  ws_options *o = ws_options_new (WS_MODE_CLIENT);

  CHECK (o != NULL);
  CHECK_OK (ws_options_set_address (o, "127.0.0.1"));
  CHECK_OK (ws_options_set_port (o, port));
  CHECK_OK (ws_options_set_reconnect_backoff_ms (o, 10, 200));
  if (r != NULL)
    CHECK_OK (ws_options_set_callbacks (o, &recorder_callbacks, r));
  return o;
}

ws_context *
create_or_die (ws_options *o, recorder *r)
{
  ws_context *c = NULL;

  /* The recorder must know its context before the first callback can run; callbacks that
     arrive before r->ctx is set are not checked (check_ctx skips NULL).  */
  CHECK_OK (ws_context_create (o, &c));
  CHECK (c != NULL);
  ws_options_free (o);
  if (r != NULL)
    {
      test_lock ();
      r->ctx = c;
      test_unlock ();
    }
  return c;
}

uint64_t
destroy_or_die (ws_context *c, uint32_t drain_ms)
{
  uint64_t unsent = UINT64_MAX;

  CHECK_OK (ws_context_destroy (c, drain_ms, &unsent));
  CHECK (unsent != UINT64_MAX);
  return unsent;
}

ws_context *
start_server (recorder *r)
{
  ws_context *c = create_or_die (server_options (r), r);

  CHECK (ws_local_port (c) != 0);
  return c;
}

ws_context *
start_client (recorder *r, uint16_t port)
{
  return create_or_die (client_options (r, port), r);
}

ws_stats
stats_of (const ws_context *c)
{
  ws_stats s;

  memset (&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_OK (ws_get_stats (c, &s));
  return s;
}

void
fill_pattern (uint8_t *buf, size_t len, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  size_t i;

  /* A cheap LCG: every byte value occurs, NULs included, and a shifted or truncated copy
     does not match.  */
  for (i = 0; i < len; i++)
    {
      x = x * 1103515245u + 12345u;
      buf[i] = (uint8_t) (x >> 16);
    }
}

int
raw_connect (uint16_t port)
{
  struct sockaddr_in a;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  CHECK (fd >= 0);
  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &a, sizeof a) != 0)
    FAIL ("connect to 127.0.0.1:%u: %s", port, strerror (errno));
  return fd;
}

void
raw_write (int fd, const void *data, size_t len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        FAIL ("send: %s", strerror (errno));
      p += n;
      len -= (size_t) n;
    }
}

size_t
raw_read_until (int fd, char *buf, size_t cap, const char *needle, unsigned ms,
                int *eof_seen)
{
  uint64_t end = test_now_ms () + (uint64_t) ms * test_time_factor ();
  size_t got = 0;

  *eof_seen = 0;
  buf[0] = '\0';
  while (got + 1 < cap)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      uint64_t now = test_now_ms ();
      ssize_t n;

      /* memmem: the bytes may contain NULs (frames).  */
      if (needle != NULL && memmem (buf, got, needle, strlen (needle)) != NULL)
        break;
      if (now >= end)
        break;
      if (poll (&p, 1, (int) (end - now)) <= 0)
        continue;
      n = recv (fd, buf + got, cap - 1 - got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *eof_seen = 1;
          break;
        }
      got += (size_t) n;
      buf[got] = '\0';
    }
  return got;
}

int
raw_handshake (int fd, const char *path)
{
  char req[512], resp[4096];
  int len, eof, code = 0;

  len = snprintf (req, sizeof req,
                  "GET %s HTTP/1.1\r\n"
                  "Host: 127.0.0.1\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "\r\n", path);
  raw_write (fd, req, (size_t) len);
  raw_read_until (fd, resp, sizeof resp, "\r\n\r\n", TEST_WAIT_MS, &eof);
  if (sscanf (resp, "HTTP/1.1 %d", &code) != 1)
    FAIL ("no HTTP status in the handshake answer: \"%.80s\"", resp);
  return code;
}

uint16_t
dead_port (int *fd)
{
  struct sockaddr_in a;
  socklen_t alen = sizeof a;

  *fd = socket (AF_INET, SOCK_STREAM, 0);
  CHECK (*fd >= 0);
  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  CHECK (bind (*fd, (struct sockaddr *) &a, sizeof a) == 0);
  CHECK (getsockname (*fd, (struct sockaddr *) &a, &alen) == 0);
  return ntohs (a.sin_port);
}
