/* The slow-subscriber policy of ws_broadcast, with one subscriber that stops reading (its
   on_receive answers non-zero) and one that keeps up.  The broadcaster never fails or blocks.
   WS_SLOW_DISCONNECT: once the slow one's queue is full it is closed with 1008 within a
   bounded time although it still does not read (the server's on_close fires), what it had
   queued is counted in messages_dropped, the fast one gets everything.
   WS_SLOW_DROP_OLDEST: the slow one stays; after it resumes it gets exactly the broadcasts
   that were not dropped, in order, the newest included.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_SIZE (64 * 1024)
#define N_MSGS 400              /* 25 MiB: more than loopback buffers plus a queue of 4 */

static void
run (ws_slow_policy policy)
{
  recorder srv, fast, slow;
  ws_options *o;
  ws_context *server, *cf, *cs;
  ws_conn_id slow_id;
  uint8_t *buf = calloc (1, MSG_SIZE);
  uint32_t i, last = 0;
  ws_stats st;
  int disconnected_at = -1;

  CHECK (buf != NULL);
  recorder_init (&srv, "server");
  recorder_init (&fast, "fast");
  recorder_init (&slow, "slow");
  fast.keep = slow.keep = 1;
  fast.keep_prefix = slow.keep_prefix = 4;
  slow.pause_on_receive = 1;

  o = server_options (&srv);
  CHECK_OK (ws_options_set_queue_capacity (o, 4));
  CHECK_OK (ws_options_set_slow_policy (o, policy));
  /* No keepalive: a stalled peer must be dropped by the slow policy itself, not later as
     dead (ping 30 s + pong 10 s by default).  */
  CHECK_OK (ws_options_set_ping_interval_ms (o, 0));
  server = create_or_die (o, &srv);
  o = client_options (&slow, ws_local_port (server));
  CHECK_OK (ws_options_set_ping_interval_ms (o, 0));
  cs = create_or_die (o, &slow);
  WAIT_UNTIL (srv.connects == 1 && slow.connects == 1);
  slow_id = srv.last_connect;
  cf = start_client (&fast, ws_local_port (server));
  WAIT_UNTIL (srv.connects == 2 && fast.connects == 1);

  /* Paced by the fast subscriber, so that only the slow one can fall behind.  */
  for (i = 0; i < N_MSGS; i++)
    {
      memcpy (buf, &i, sizeof i);
      CHECK_OK (ws_broadcast (server, buf, MSG_SIZE, WS_MSG_BINARY));
      WAIT_UNTIL (fast.receives == (int) i + 1);
      if (policy == WS_SLOW_DISCONNECT && disconnected_at < 0)
        {
          test_lock ();
          if (srv.closes > 0)
            disconnected_at = (int) i;
          test_unlock ();
        }
    }
  for (i = 0; i < N_MSGS; i++)
    {
      uint32_t got;

      memcpy (&got, fast.msgs[i].data, sizeof got);
      CHECK_U64 (got, i);
      CHECK_INT (fast.msgs[i].len, MSG_SIZE);
    }
  st = stats_of (server);
  CHECK (st.messages_dropped >= 1);
  CHECK_INT (fast.closes, 0);

  if (policy == WS_SLOW_DISCONNECT)
    {
      WAIT_UNTIL (srv.closes == 1);
      CHECK_INT (srv.last_close_conn, slow_id);
      /* The server closed it with 1008; what on_close reports is the code that came back,
         and a stalled peer sends none (1006, as documented) unless it answered 1008.  */
      if (srv.last_close_code != 1006 && srv.last_close_code != 1008)
        FAIL ("the slow subscriber's on_close code is %u, expected 1008 (or 1006)",
              srv.last_close_code);
      CHECK_STATUS (ws_send (server, slow_id, "x", 1, WS_MSG_TEXT), WS_ERR_NOT_CONNECTED);
      /* What the slow one still gets, once it reads again, is a prefix in order.  */
      test_lock ();
      slow.pause_on_receive = 0;
      test_unlock ();
      {
        /* The slow client may already have seen its connection end (the server hung up):
           then there is nothing to resume, and its on_close is awaited below.  */
        ws_status rs = ws_rx_flow (cs, 0, 1);

        if (rs != WS_ERR_NOT_CONNECTED)
          CHECK_STATUS (rs, WS_OK);
      }
      WAIT_UNTIL (slow.closes >= 1);
      test_lock ();
      for (i = 0; i < (uint32_t) slow.n_msgs; i++)
        {
          uint32_t got;

          memcpy (&got, slow.msgs[i].data, sizeof got);
          CHECK_U64 (got, i);
        }
      test_unlock ();
      printf ("disconnect: the slow subscriber was closed after %d broadcasts, had read %zu\n",
              disconnected_at, slow.n_msgs);
    }
  else
    {
      uint64_t expect = N_MSGS - st.messages_dropped;

      CHECK_INT (srv.closes, 0);
      test_lock ();
      slow.pause_on_receive = 0;
      test_unlock ();
      CHECK_OK (ws_rx_flow (cs, 0, 1));
      WAIT_UNTIL_MS (slow.receives >= (int) expect, 30000);
      CHECK_OK (ws_flush (server, 5000));
      CHECK_INT (slow.receives, expect);
      for (i = 0; i < (uint32_t) slow.n_msgs; i++)
        {
          uint32_t got;

          memcpy (&got, slow.msgs[i].data, sizeof got);
          if (i > 0 && got <= last)
            FAIL ("drop-oldest: message %u (number %u) after number %u", i, got, last);
          last = got;
        }
      CHECK_U64 (last, N_MSGS - 1);     /* the newest is never the one dropped */
      CHECK_INT (slow.closes, 0);
      printf ("drop-oldest: %llu of %d dropped for the slow subscriber\n",
              (unsigned long long) st.messages_dropped, N_MSGS);
    }

  CHECK_U64 (destroy_or_die (cf, 2000), 0);
  destroy_or_die (cs, 2000);
  CHECK_U64 (destroy_or_die (server, 2000), 0);
  CHECK_INT (srv.bad_id + fast.bad_id + slow.bad_id, 0);
  recorder_free (&srv);
  recorder_free (&fast);
  recorder_free (&slow);
  free (buf);
}

int
main (void)
{
  run (WS_SLOW_DISCONNECT);
  run (WS_SLOW_DROP_OLDEST);
  return 0;
}
