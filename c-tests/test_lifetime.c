/* Context lifetime: a destroyed context answers WS_ERR_INVALID_ARGUMENT in every function, even
   after new contexts were created (a handle is never reused), and a double destroy is harmless;
   threads calling the API on a context while another thread destroys it get answers (WS_OK,
   WS_ERR_CLOSED, ...), never a crash or a read of freed memory (valgrind checks that), and once
   destroy returned they get WS_ERR_INVALID_ARGUMENT for good.  */

#include "common.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#define WORKERS 3

/* Every function on a dead handle.  */
static void
check_dead (ws_context *c)
{
  ws_stats s;
  char ip[64];
  uint64_t unsent = 42;

  memset (&s, 0, sizeof s);
  s.struct_size = sizeof s;
  CHECK_STATUS (ws_send (c, 0, "x", 1, WS_MSG_TEXT), WS_ERR_INVALID_ARGUMENT);
  CHECK (strstr (ws_last_error (), "not a live context") != NULL);
  CHECK_STATUS (ws_broadcast (c, "x", 1, WS_MSG_TEXT), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_request_writable (c, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_rx_flow (c, 1, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_close_connection (c, 1, 1000, NULL), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_flush (c, 0), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_get_stats (c, &s), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_peer_address (c, 1, ip, sizeof ip, NULL), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_dispatch (c, 0), WS_ERR_INVALID_ARGUMENT);
  CHECK_INT (ws_local_port (c), 0);
  CHECK_INT (ws_event_fd (c), -1);
  CHECK_STATUS (ws_context_destroy (c, 0, &unsent), WS_ERR_INVALID_ARGUMENT);
  CHECK_U64 (unsent, 42);
}

static void
stale_handles (void)
{
  ws_context *a, *fresh[4];
  uint16_t port;
  int i;

  a = create_or_die (server_options (NULL), NULL);
  port = ws_local_port (a);
  CHECK (port != 0);
  CHECK_U64 (destroy_or_die (a, 0), 0);
  /* New contexts reuse the freed slot sooner or later; none answers to the old handle.  */
  for (i = 0; i < 4; i++)
    {
      fresh[i] = create_or_die (server_options (NULL), NULL);
      CHECK (fresh[i] != a);
    }
  check_dead (a);
  for (i = 0; i < 4; i++)
    {
      /* Unharmed by the stale calls.  */
      CHECK (ws_local_port (fresh[i]) != 0);
      CHECK_OK (ws_broadcast (fresh[i], "x", 1, WS_MSG_TEXT));
      CHECK_U64 (destroy_or_die (fresh[i], 0), 0);
      check_dead (fresh[i]);
    }
}

/* The race: workers call the API on TARGET until they have seen it dead many times.  */
static ws_context *target;
static ws_conn_id target_conn;
static atomic_int destroy_started;  /* read by the workers without the lock */
static int started;             /* the same, under test_lock, to wait on */
static int progress;            /* under test_lock */

typedef struct worker
{
  pthread_t thread;
  int id;
  int calls, closed, dead, early_dead, revived, unexpected;
} worker;

static ws_status
one_call (int n)
{
  ws_stats s;
  char ip[64];

  switch (n % 8)
    {
    case 0:
      return ws_send (target, target_conn, "racing", 6, WS_MSG_TEXT);
    case 1:
      return ws_broadcast (target, "racing", 6, WS_MSG_TEXT);
    case 2:
      memset (&s, 0, sizeof s);
      s.struct_size = sizeof s;
      return ws_get_stats (target, &s);
    case 3:
      return ws_request_writable (target, target_conn);
    case 4:
      return ws_rx_flow (target, target_conn, 1);
    case 5:
      return ws_peer_address (target, target_conn, ip, sizeof ip, NULL);
    case 6:
      return ws_flush (target, 0);
    default:
      return ws_local_port (target) != 0 ? WS_OK : WS_ERR_INVALID_ARGUMENT;
    }
}

static void *
worker_main (void *arg)
{
  worker *w = arg;
  int n = w->id;
  int yield = test_under_valgrind ();

  while (w->dead < 50)
    {
      ws_status st;

      /* valgrind runs one thread at a time and hands its lock over unfairly: three threads
         calling without pause can keep the I/O threads that destroy waits for off the CPU for
         minutes.  Natively the race is tight (no yield); under valgrind each call gives the
         other threads a turn, which still interleaves calls with every step of destroy.  */
      if (yield)
        sched_yield ();
      st = one_call (n++);

      w->calls++;
      if (st == WS_ERR_INVALID_ARGUMENT)
        {
          if (!atomic_load (&destroy_started))
            w->early_dead++;
          w->dead++;
        }
      else if (w->dead > 0)
        w->revived++;           /* a dead handle came back */
      else if (st == WS_ERR_CLOSED)
        w->closed++;
      else if (st != WS_OK && st != WS_ERR_QUEUE_FULL && st != WS_ERR_NOT_CONNECTED
               && st != WS_ERR_TIMEOUT)
        w->unexpected++;
      if (w->calls % 16 == 0)
        {
          test_lock ();
          progress += 16;
          test_signal ();
          test_unlock ();
        }
    }
  return NULL;
}

static void *
second_destroy (void *arg)
{
  ws_status *st = arg;

  WAIT_UNTIL (started);
  *st = ws_context_destroy (target, 0, NULL);
  return NULL;
}

static void
race (void)
{
  recorder srv, cli;
  ws_context *client;
  worker w[WORKERS];
  pthread_t second;
  ws_status second_st = WS_OK, first_st;
  int i, need = (int) test_scaled (WORKERS * 400, WORKERS * 16);

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  target = start_server (&srv);
  client = start_client (&cli, ws_local_port (target));
  WAIT_UNTIL (srv.connects == 1);
  test_lock ();
  target_conn = srv.last_connect;
  progress = 0;
  started = 0;
  test_unlock ();
  atomic_store (&destroy_started, 0);

  memset (w, 0, sizeof w);
  for (i = 0; i < WORKERS; i++)
    {
      w[i].id = i;
      CHECK_INT (pthread_create (&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
  CHECK_INT (pthread_create (&second, NULL, second_destroy, &second_st), 0);
  WAIT_UNTIL (progress >= need);
  atomic_store (&destroy_started, 1);
  test_lock ();
  started = 1;
  test_signal ();
  test_unlock ();
  first_st = ws_context_destroy (target, 100, NULL);
  CHECK_INT (pthread_join (second, NULL), 0);
  /* One destroy did it; the other was told the context is going or gone.  */
  if (first_st != WS_OK)
    {
      CHECK_OK (second_st);
      CHECK (first_st == WS_ERR_CLOSED || first_st == WS_ERR_INVALID_ARGUMENT);
    }
  else
    CHECK (second_st == WS_ERR_CLOSED || second_st == WS_ERR_INVALID_ARGUMENT);
  check_dead (target);
  for (i = 0; i < WORKERS; i++)
    {
      CHECK_INT (pthread_join (w[i].thread, NULL), 0);
      CHECK_INT (w[i].early_dead, 0);
      CHECK_INT (w[i].revived, 0);
      CHECK_INT (w[i].unexpected, 0);
    }
  CHECK_U64 (destroy_or_die (client, 0), 0);
  CHECK_INT (srv.bad_context + srv.bad_id + cli.bad_context + cli.bad_id, 0);
  recorder_free (&srv);
  recorder_free (&cli);
}

int
main (void)
{
  int round;

  stale_handles ();
  for (round = 0; round < 3; round++)
    race ();
  return 0;
}
