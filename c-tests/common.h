/* Shared helpers of the ws_api C tests: failing assertions, bounded waits on events, and a
   recorder of callbacks with a tiny server/client fixture on 127.0.0.1.

   Synchronisation rule: callbacks change recorder fields under test_lock () and wake the
   waiters; tests wait with WAIT_UNTIL (a predicate re-checked under the same lock, with a
   deadline that fails the test).  No test sleeps to let something happen.  */

#ifndef WS_TESTS_COMMON_H
#define WS_TESTS_COMMON_H

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <ws_api.h>

/* Failing the test: print where and why (with ws_last_error of this thread), then exit 1.  */
void test_fail (const char *file, int line, const char *fmt, ...)
  __attribute__ ((noreturn, format (printf, 3, 4)));

#define FAIL(...) test_fail (__FILE__, __LINE__, __VA_ARGS__)

#define CHECK(cond)                                                     \
  do                                                                    \
    {                                                                   \
      if (!(cond))                                                      \
        test_fail (__FILE__, __LINE__, "check failed: %s", #cond);      \
    }                                                                   \
  while (0)

#define CHECK_INT(actual, expected)                                     \
  do                                                                    \
    {                                                                   \
      long long a_ = (long long) (actual);                              \
      long long e_ = (long long) (expected);                            \
      if (a_ != e_)                                                     \
        test_fail (__FILE__, __LINE__, "%s is %lld, expected %s = %lld", \
                   #actual, a_, #expected, e_);                         \
    }                                                                   \
  while (0)

#define CHECK_U64(actual, expected)                                     \
  do                                                                    \
    {                                                                   \
      uint64_t a_ = (uint64_t) (actual);                                \
      uint64_t e_ = (uint64_t) (expected);                              \
      if (a_ != e_)                                                     \
        test_fail (__FILE__, __LINE__, "%s is %" PRIu64 ", expected %s = %" PRIu64, \
                   #actual, a_, #expected, e_);                         \
    }                                                                   \
  while (0)

/* A call answering a ws_status: names both statuses on mismatch.  */
#define CHECK_STATUS(call, expected)                                    \
  do                                                                    \
    {                                                                   \
      ws_status s_ = (call);                                            \
      ws_status e_ = (expected);                                        \
      if (s_ != e_)                                                     \
        test_fail (__FILE__, __LINE__, "%s answered %d (%s), expected %d (%s)", \
                   #call, (int) s_, ws_strerror (s_), (int) e_, ws_strerror (e_)); \
    }                                                                   \
  while (0)

#define CHECK_OK(call) CHECK_STATUS (call, WS_OK)

/* Valgrind makes everything 20-50 times slower: message counts are divided by
   test_scale_divisor () and timeouts multiplied by test_time_factor ().  WS_UNDER_VALGRIND=1
   (set by the CMake harness for the .memcheck variants) or WS_TEST_SCALE=N select them.  */
int test_under_valgrind (void);
unsigned test_scale_divisor (void);
unsigned test_time_factor (void);
/* N scaled down for valgrind, at least MIN.  */
unsigned test_scaled (unsigned n, unsigned min);

/* The lock and condition every callback of a test signals.  */
void test_lock (void);
void test_unlock (void);
/* Wakes every waiter; call with the lock held (after changing state) or not.  */
void test_signal (void);
/* An absolute deadline MS milliseconds from now (multiplied by test_time_factor).  */
struct timespec test_deadline (unsigned ms);
/* Waits on the condition until signalled or DL passed; answers 0 when DL has passed.
   The lock must be held.  */
int test_wait (const struct timespec *dl);
/* Milliseconds elapsed since an arbitrary start (CLOCK_MONOTONIC).  */
uint64_t test_now_ms (void);

/* Default bound of one wait: generous (a loaded 2-core CI runner), still fails the test.  */
#define TEST_WAIT_MS 15000

#define WAIT_UNTIL_MS(cond, ms)                                         \
  do                                                                    \
    {                                                                   \
      struct timespec dl_ = test_deadline (ms);                         \
      test_lock ();                                                     \
      while (!(cond))                                                   \
        {                                                               \
          if (!test_wait (&dl_) && !(cond))                             \
            {                                                           \
              test_unlock ();                                           \
              test_fail (__FILE__, __LINE__, "timed out waiting for: %s", #cond); \
            }                                                           \
        }                                                               \
      test_unlock ();                                                   \
    }                                                                   \
  while (0)

#define WAIT_UNTIL(cond) WAIT_UNTIL_MS (cond, TEST_WAIT_MS)

/* One received message, kept when recorder.keep is set.  */
typedef struct rec_msg
{
  ws_conn_id conn;
  ws_msg_type type;
  size_t len;
  uint8_t *data;                /* malloc'ed copy (see keep_prefix), NUL added */
} rec_msg;

#define REC_MAX_CONNS 256

/* Everything the callbacks of one context saw.  Read fields under test_lock () or after a
   WAIT_UNTIL that made them final.  */
typedef struct recorder
{
  const char *name;             /* for messages */
  ws_context *ctx;              /* set by the fixture after creation */

  int connects;
  int closes;
  int errors;
  int writables;
  int receives;
  uint64_t received_bytes;

  ws_conn_id last_connect;      /* id given to the latest on_connect */
  ws_conn_id open_conns[REC_MAX_CONNS]; /* ids of open connections, in connect order */
  int n_open;
  ws_conn_id last_writable;

  ws_conn_id last_close_conn;
  uint16_t last_close_code;
  char last_close_reason[128];

  ws_conn_id last_error_conn;
  ws_status last_error_status;
  char last_error_message[256];

  int bad_context;              /* a callback got another ctx than this->ctx */
  int bad_id;                   /* an id 0, reused, or a close for an unknown id */
  ws_conn_id max_id_seen;

  /* Received messages when keep != 0; only the first keep_prefix bytes of each (0: all),
     while rec_msg.len stays the real length.  */
  int keep;
  size_t keep_prefix;
  rec_msg *msgs;
  size_t n_msgs, cap_msgs;

  /* What on_receive answers: non-zero pauses reading that connection.  */
  int pause_on_receive;

  /* Echo every received message back to its sender (server side use).  */
  int echo;
  ws_status last_echo_status;
} recorder;

void recorder_init (recorder *r, const char *name);
/* Frees the kept messages.  */
void recorder_free (recorder *r);

/* The callback table that records into a recorder (the user pointer).  */
extern const ws_callbacks recorder_callbacks;

/* Options of a server on 127.0.0.1, port 0, recording into R.  */
ws_options *server_options (recorder *r);
/* Options of a client of 127.0.0.1:PORT, recording into R, with a short reconnect backoff
   (so that tests do not wait for the 100 ms .. 30 s default).  */
ws_options *client_options (recorder *r, uint16_t port);
/* Creates the context, frees O, stores it in R->ctx (R may be NULL); fails the test on error.  */
ws_context *create_or_die (ws_options *o, recorder *r);
/* Destroys with DRAIN_MS of drain; fails the test unless WS_OK.  Answers unsent_out.  */
uint64_t destroy_or_die (ws_context *c, uint32_t drain_ms);

/* A started server and one client connected to it (both on_connect seen).  */
ws_context *start_server (recorder *r);
ws_context *start_client (recorder *r, uint16_t port);

/* Stats with struct_size set; fails the test unless WS_OK.  */
ws_stats stats_of (const ws_context *c);

/* Fills BUF with a pattern depending on SEED and position (any byte value, NULs included).  */
void fill_pattern (uint8_t *buf, size_t len, uint32_t seed);

/* Plain TCP, to play a peer that misbehaves or speaks HTTP only.  */
/* A blocking socket connected to 127.0.0.1:PORT; fails the test on error.  */
int raw_connect (uint16_t port);
/* Writes all of S; fails the test on error.  */
void raw_write (int fd, const void *data, size_t len);
/* Reads into BUF (NUL-terminated, at most CAP - 1 bytes) until NEEDLE appears, the peer
   closes, or MS ms (times the valgrind factor) pass.  Answers the bytes read; *EOF_SEEN is set
   when the peer closed (or reset) the connection.  */
size_t raw_read_until (int fd, char *buf, size_t cap, const char *needle, unsigned ms,
                       int *eof_seen);
/* Sends a valid WebSocket opening handshake for PATH and reads the answer up to the blank
   line; answers the HTTP status code (101 when accepted).  */
int raw_handshake (int fd, const char *path);
/* A loopback port nobody listens on (bound, never listening); close *FD at the end.  */
uint16_t dead_port (int *fd);

#endif /* WS_TESTS_COMMON_H */
