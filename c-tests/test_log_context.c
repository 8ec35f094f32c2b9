/* ws_options_set_log_handler: each context's own handler gets what that context's I/O thread
   logs, with its own user pointer, and nothing of the other contexts'; a context without one
   logs to the global handler.  And re-entrancy: a handler (global or per context) that calls
   ws_set_log_handler itself neither deadlocks nor loses the switch.  */

#include "common.h"

#include <string.h>
#include <unistd.h>

enum
{ SRV_A, SRV_B, CLI_A, CLI_B, N_TAGS };

static struct
{
  int calls[N_TAGS];
  int wrong_user;               /* a handler got another user pointer than its own */
  int global_calls;             /* the first global handler */
  int switched_calls;           /* the global handler installed from inside a handler */
  int switch_from_context;      /* a per-context handler replaced the global one */
} g;

static int tags[N_TAGS];

static void
switched_handler (ws_log_level lvl, const char *msg, void *user)
{
  (void) lvl;
  (void) msg;
  (void) user;
  test_lock ();
  g.switched_calls++;
  test_signal ();
  test_unlock ();
}

/* The global handler: on its first call it replaces itself (the old library deadlocked
   there: the handler ran under the lock that ws_set_log_handler takes).  */
static void
global_handler (ws_log_level lvl, const char *msg, void *user)
{
  int first;

  (void) lvl;
  (void) msg;
  (void) user;
  test_lock ();
  first = g.global_calls++ == 0;
  test_signal ();
  test_unlock ();
  if (first)
    ws_set_log_handler (switched_handler, NULL, WS_LOG_DEBUG);
}

static void
context_handler (ws_log_level lvl, const char *msg, void *user)
{
  int *tag = user;
  int i = (int) (tag - tags);

  (void) lvl;
  (void) msg;
  test_lock ();
  if (i < 0 || i >= N_TAGS || tag != &tags[i])
    g.wrong_user++;
  else
    g.calls[i]++;
  test_signal ();
  test_unlock ();
}

/* Server A's handler also removes the global handler once, from the I/O thread.  */
static void
server_a_handler (ws_log_level lvl, const char *msg, void *user)
{
  int first;

  context_handler (lvl, msg, user);
  test_lock ();
  first = !g.switch_from_context;
  g.switch_from_context = 1;
  test_unlock ();
  if (first)
    ws_set_log_handler (NULL, NULL, WS_LOG_DEBUG);
}

static ws_context *
server_with_handler (recorder *r, ws_log_fn fn, int *tag)
{
  ws_options *o = server_options (r);

  CHECK_OK (ws_options_set_log_handler (o, fn, tag, WS_LOG_DEBUG));
  return create_or_die (o, r);
}

static ws_context *
client_with_handler (recorder *r, uint16_t port, int *tag)
{
  ws_options *o = client_options (r, port);
  ws_context *c;

  CHECK_OK (ws_options_set_log_handler (o, context_handler, tag, WS_LOG_DEBUG));
  c = create_or_die (o, r);
  WAIT_UNTIL (r->connects == 1);
  return c;
}

int
main (void)
{
  recorder rsa, rsb, rca, rcb, rdead;
  ws_context *sa, *sb, *ca, *cb, *dead;
  int fd, i;
  uint16_t port = dead_port (&fd);

  /* Arguments: NULL options are refused; NULL fn is accepted (back to the global handler).  */
  CHECK_STATUS (ws_options_set_log_handler (NULL, context_handler, NULL, WS_LOG_INFO),
                WS_ERR_INVALID_ARGUMENT);
  {
    ws_options *o = ws_options_new (WS_MODE_SERVER);

    CHECK_OK (ws_options_set_log_handler (o, NULL, NULL, WS_LOG_INFO));
    CHECK_OK (ws_options_set_log_handler (o, context_handler, &tags[0], (ws_log_level) 42));
    ws_options_free (o);
  }

  ws_set_log_handler (global_handler, NULL, WS_LOG_DEBUG);

  /* 1. Four contexts with their own handlers: each connection is logged (at INFO) by both
     ends, each end to its own handler only.  */
  recorder_init (&rsa, "server A");
  recorder_init (&rsb, "server B");
  recorder_init (&rca, "client A");
  recorder_init (&rcb, "client B");
  sa = server_with_handler (&rsa, server_a_handler, &tags[SRV_A]);
  sb = server_with_handler (&rsb, context_handler, &tags[SRV_B]);
  ca = client_with_handler (&rca, ws_local_port (sa), &tags[CLI_A]);
  cb = client_with_handler (&rcb, ws_local_port (sb), &tags[CLI_B]);
  WAIT_UNTIL (rsa.connects == 1 && rsb.connects == 1);
  for (i = 0; i < N_TAGS; i++)
    WAIT_UNTIL (g.calls[i] >= 1);
  test_lock ();
  CHECK_INT (g.wrong_user, 0);
  CHECK_INT (g.global_calls, 0);
  CHECK_INT (g.switched_calls, 0);
  /* Server A's handler removed the global handler from its I/O thread: no deadlock.  */
  CHECK_INT (g.switch_from_context, 1);
  test_unlock ();

  /* 2. A context without its own handler logs to the global one; that handler replaces
     itself on its first call and the replacement gets what follows.  */
  ws_set_log_handler (global_handler, NULL, WS_LOG_DEBUG);
  recorder_init (&rdead, "client of a dead port");
  dead = create_or_die (client_options (&rdead, port), &rdead);
  WAIT_UNTIL (rdead.errors >= 3);
  WAIT_UNTIL (g.global_calls >= 1 && g.switched_calls >= 1);
  test_lock ();
  CHECK_INT (g.global_calls, 1);
  CHECK_INT (g.wrong_user, 0);
  test_unlock ();

  destroy_or_die (dead, 0);
  CHECK_U64 (destroy_or_die (ca, 1000), 0);
  CHECK_U64 (destroy_or_die (cb, 1000), 0);
  CHECK_U64 (destroy_or_die (sa, 1000), 0);
  CHECK_U64 (destroy_or_die (sb, 1000), 0);
  ws_set_log_handler (NULL, NULL, WS_LOG_DEBUG);
  recorder_free (&rsa);
  recorder_free (&rsb);
  recorder_free (&rca);
  recorder_free (&rcb);
  recorder_free (&rdead);
  close (fd);
  return 0;
}
