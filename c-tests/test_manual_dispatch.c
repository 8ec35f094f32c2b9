/* WS_DISPATCH_MANUAL: callbacks wait until ws_dispatch runs them on the calling thread;
   ws_event_fd is readable while any wait, so a plain poll() loop drives both a server and a
   client.  Checks that no callback runs before ws_dispatch, that every callback runs on the
   dispatching thread, that ws_dispatch (c, 1) runs at most one, and that the fd is not
   readable once everything was dispatched.  */

#include "common.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

static pthread_t main_thread;
static int wrong_thread;
static int total_callbacks;
static recorder srv, cli;

/* Wraps the recorder's callbacks to check the thread and count every call.  */
static void
seen (void)
{
  if (!pthread_equal (pthread_self (), main_thread))
    wrong_thread++;
  total_callbacks++;
}

static void
on_connect (ws_context *c, ws_conn_id id, void *u)
{
  seen ();
  recorder_callbacks.on_connect (c, id, u);
}

static int
on_receive (ws_context *c, ws_conn_id id, const uint8_t *d, size_t l, ws_msg_type t, void *u)
{
  seen ();
  return recorder_callbacks.on_receive (c, id, d, l, t, u);
}

static void
on_writable (ws_context *c, ws_conn_id id, void *u)
{
  seen ();
  recorder_callbacks.on_writable (c, id, u);
}

static void
on_close (ws_context *c, ws_conn_id id, uint16_t code, const char *r, void *u)
{
  seen ();
  recorder_callbacks.on_close (c, id, code, r, u);
}

static void
on_error (ws_context *c, ws_conn_id id, ws_status s, const char *m, void *u)
{
  seen ();
  recorder_callbacks.on_error (c, id, s, m, u);
}

static const ws_callbacks cbs = {
  on_connect, on_receive, on_writable, on_close, on_error
};

static ws_context *server, *client;

/* One poll over both event fds (up to MS ms); dispatches what is ready.  Answers how many
   contexts were ready.  */
static int
pump_once (int ms)
{
  struct pollfd p[2];
  int n, ready = 0;

  p[0].fd = ws_event_fd (server);
  p[1].fd = ws_event_fd (client);
  p[0].events = p[1].events = POLLIN;
  n = poll (p, 2, ms);
  CHECK (n >= 0);
  if (p[0].revents & POLLIN)
    {
      CHECK_OK (ws_dispatch (server, 0));
      ready++;
    }
  if (p[1].revents & POLLIN)
    {
      CHECK_OK (ws_dispatch (client, 0));
      ready++;
    }
  return ready;
}

/* Drives both contexts until COND holds; fails after the usual bound.  */
#define PUMP_UNTIL(cond)                                                \
  do                                                                    \
    {                                                                   \
      uint64_t end_ = test_now_ms () + (uint64_t) TEST_WAIT_MS * test_time_factor (); \
      while (!(cond))                                                   \
        {                                                               \
          if (test_now_ms () > end_)                                    \
            FAIL ("timed out pumping for: %s", #cond);                  \
          pump_once (100);                                              \
        }                                                               \
    }                                                                   \
  while (0)

/* Waits (poll, bounded) until FD is readable, without dispatching.  */
static void
wait_readable (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int n = poll (&p, 1, TEST_WAIT_MS * (int) test_time_factor ());

  if (n != 1 || !(p.revents & POLLIN))
    FAIL ("event fd %d did not become readable", fd);
}

static int
readable_now (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };

  return poll (&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int
main (void)
{
  ws_options *o;
  int sfd, cfd, i, before, calls;

  main_thread = pthread_self ();
  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  srv.keep = cli.keep = 1;
  srv.echo = 1;                 /* ws_send from inside a dispatched callback */

  o = server_options (NULL);
  CHECK_OK (ws_options_set_dispatch (o, WS_DISPATCH_MANUAL));
  CHECK_OK (ws_options_set_callbacks (o, &cbs, &srv));
  server = create_or_die (o, &srv);
  o = client_options (NULL, ws_local_port (server));
  CHECK_OK (ws_options_set_dispatch (o, WS_DISPATCH_MANUAL));
  CHECK_OK (ws_options_set_callbacks (o, &cbs, &cli));
  client = create_or_die (o, &cli);
  sfd = ws_event_fd (server);
  cfd = ws_event_fd (client);
  CHECK (sfd >= 0);
  CHECK (cfd >= 0);
  CHECK (sfd != cfd);
  /* Same fd every time.  */
  CHECK_INT (ws_event_fd (server), sfd);

  /* The connection is made by the I/O threads, but nothing is delivered before dispatch:
     the fds become readable and the callbacks have not run.  */
  wait_readable (sfd);
  wait_readable (cfd);
  CHECK_INT (total_callbacks, 0);
  CHECK_INT (srv.connects + cli.connects, 0);
  /* Stats do not wait for dispatch.  */
  CHECK_U64 (stats_of (server).connections_total, 1);

  PUMP_UNTIL (srv.connects == 1 && cli.connects == 1);

  /* Ten messages; the server echoes each from its dispatched on_receive.  */
  for (i = 0; i < 10; i++)
    {
      char buf[16];
      int len = snprintf (buf, sizeof buf, "m%d", i);

      CHECK_OK (ws_send (client, 0, buf, (size_t) len, WS_MSG_TEXT));
    }
  CHECK_OK (ws_flush (client, 5000));

  /* One at a time: ws_dispatch (c, 1) runs at most one callback.  */
  wait_readable (sfd);
  calls = 0;
  while (srv.receives < 10)
    {
      before = total_callbacks;
      if (!readable_now (sfd))
        wait_readable (sfd);
      CHECK_OK (ws_dispatch (server, 1));
      CHECK (total_callbacks - before <= 1);
      if (++calls > 1000)
        FAIL ("10 messages needed more than 1000 ws_dispatch calls");
    }
  CHECK_STATUS (srv.last_echo_status, WS_OK);
  PUMP_UNTIL (cli.receives == 10);
  for (i = 0; i < 10; i++)
    {
      char buf[16];

      snprintf (buf, sizeof buf, "m%d", i);
      CHECK (strcmp ((char *) srv.msgs[i].data, buf) == 0);
      CHECK (strcmp ((char *) cli.msgs[i].data, buf) == 0);
    }

  /* on_writable is a callback too: it waits for dispatch.  */
  CHECK_OK (ws_request_writable (client, 0));
  wait_readable (cfd);
  CHECK_INT (cli.writables, 0);
  PUMP_UNTIL (cli.writables == 1);

  /* Everything dispatched and nothing going on: the fds are not readable.  */
  CHECK_OK (ws_dispatch (server, 0));
  CHECK_OK (ws_dispatch (client, 0));
  CHECK (!readable_now (sfd));
  CHECK (!readable_now (cfd));
  /* Dispatching with nothing pending is fine.  */
  CHECK_OK (ws_dispatch (server, 0));

  /* A close travels the same way.  */
  CHECK_OK (ws_close_connection (server, srv.last_connect, 4001, "manual"));
  PUMP_UNTIL (cli.closes == 1 && srv.closes == 1);
  CHECK_INT (cli.last_close_code, 4001);
  CHECK (strcmp (cli.last_close_reason, "manual") == 0);

  CHECK_INT (wrong_thread, 0);
  CHECK_INT (srv.bad_id + cli.bad_id, 0);
  CHECK_INT (srv.errors, 0);
  /* Events still pending at destroy (the client reconnecting) are discarded, not leaked.  */
  destroy_or_die (client, 1000);
  destroy_or_die (server, 1000);
  recorder_free (&srv);
  recorder_free (&cli);
  return 0;
}
