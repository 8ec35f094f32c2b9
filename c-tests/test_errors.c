/* ws_strerror, ws_last_error and ws_version: a distinct, non-empty static text for every
   status and a text for unknown values; ws_last_error is "" on a thread that had no failure,
   describes the last failed call of its own thread only, and is kept across successful calls;
   ws_version is a static "MAJOR.MINOR.PATCH".  */

#include "common.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const ws_status all[] = {
  WS_OK, WS_ERR_INVALID_ARGUMENT, WS_ERR_QUEUE_FULL, WS_ERR_NOT_CONNECTED, WS_ERR_CLOSED,
  WS_ERR_TOO_LARGE, WS_ERR_IO, WS_ERR_TLS, WS_ERR_TIMEOUT, WS_ERR_INTERNAL,
};
#define N_ALL (sizeof all / sizeof all[0])

static char thread_saw[256];

static void *
other_thread (void *arg)
{
  (void) arg;
  /* A fresh thread has no failure of its own, whatever the main thread did.  */
  snprintf (thread_saw, sizeof thread_saw, "%s", ws_last_error ());
  /* Its own failure does not show up on the main thread.  */
  CHECK_STATUS (ws_options_set_port (NULL, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK (ws_last_error ()[0] != '\0');
  return NULL;
}

int
main (void)
{
  size_t i, j;
  const char *v, *p, *e1;
  char saved[256];
  pthread_t t;
  ws_options *o;
  int dots = 0;

  /* The values are the contract's.  */
  CHECK_INT (WS_OK, 0);
  CHECK_INT (WS_ERR_INVALID_ARGUMENT, -1);
  CHECK_INT (WS_ERR_QUEUE_FULL, -2);
  CHECK_INT (WS_ERR_NOT_CONNECTED, -3);
  CHECK_INT (WS_ERR_CLOSED, -4);
  CHECK_INT (WS_ERR_TOO_LARGE, -5);
  CHECK_INT (WS_ERR_IO, -6);
  CHECK_INT (WS_ERR_TLS, -7);
  CHECK_INT (WS_ERR_TIMEOUT, -8);
  CHECK_INT (WS_ERR_INTERNAL, -9);
  CHECK_INT (WS_MODE_CLIENT, 0);
  CHECK_INT (WS_MODE_SERVER, 1);
  CHECK_INT (WS_MSG_TEXT, 1);
  CHECK_INT (WS_MSG_BINARY, 2);
  CHECK_INT (WS_DISPATCH_THREAD, 0);
  CHECK_INT (WS_DISPATCH_MANUAL, 1);
  CHECK_INT (WS_SLOW_DISCONNECT, 0);
  CHECK_INT (WS_SLOW_DROP_OLDEST, 1);
  CHECK_INT (WS_LOG_ERROR, 1);
  CHECK_INT (WS_LOG_WARN, 2);
  CHECK_INT (WS_LOG_INFO, 3);
  CHECK_INT (WS_LOG_DEBUG, 4);

  for (i = 0; i < N_ALL; i++)
    {
      const char *s = ws_strerror (all[i]);

      CHECK (s != NULL && s[0] != '\0');
      CHECK (ws_strerror (all[i]) == s);        /* static */
      for (j = 0; j < i; j++)
        if (strcmp (s, ws_strerror (all[j])) == 0)
          FAIL ("statuses %d and %d share the text \"%s\"", (int) all[i], (int) all[j], s);
    }
  CHECK (ws_strerror ((ws_status) 42) != NULL);
  CHECK (ws_strerror ((ws_status) -100) != NULL);
  CHECK (ws_strerror ((ws_status) 42)[0] != '\0');

  v = ws_version ();
  CHECK (v != NULL);
  CHECK (ws_version () == v);
  CHECK (isdigit ((unsigned char) v[0]));
  for (p = v; *p != '\0' && *p != '-' && *p != '+'; p++)
    {
      if (*p == '.')
        dots++;
      else if (!isdigit ((unsigned char) *p))
        FAIL ("ws_version \"%s\" is not MAJOR.MINOR.PATCH", v);
    }
  CHECK_INT (dots, 2);

  /* No failure yet on this thread.  */
  CHECK (ws_last_error () != NULL);
  CHECK (strcmp (ws_last_error (), "") == 0);

  o = ws_options_new (WS_MODE_SERVER);
  CHECK_STATUS (ws_options_set_port (o, 70000), WS_ERR_INVALID_ARGUMENT);
  e1 = ws_last_error ();
  CHECK (e1 != NULL && e1[0] != '\0');
  snprintf (saved, sizeof saved, "%s", e1);
  /* A successful call leaves the last failure's text alone.  */
  CHECK_OK (ws_options_set_port (o, 0));
  CHECK (strcmp (ws_last_error (), saved) == 0);
  /* Another failure replaces it.  */
  CHECK_STATUS (ws_options_set_path (o, "relative"), WS_ERR_INVALID_ARGUMENT);
  CHECK (ws_last_error ()[0] != '\0');
  CHECK (strcmp (ws_last_error (), saved) != 0);
  snprintf (saved, sizeof saved, "%s", ws_last_error ());

  CHECK (pthread_create (&t, NULL, other_thread, NULL) == 0);
  CHECK (pthread_join (t, NULL) == 0);
  CHECK (strcmp (thread_saw, "") == 0);
  CHECK (strcmp (ws_last_error (), saved) == 0);

  ws_options_free (o);
  return 0;
}
