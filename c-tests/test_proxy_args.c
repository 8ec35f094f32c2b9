/* ws_options_set_proxy and ws_options_set_proxy_from_env: the setters refuse malformed URLs,
   other schemes, CR/LF and spaces (header injection into the CONNECT request) and server mode
   with WS_ERR_INVALID_ARGUMENT and a message that never repeats a password; a malformed
   http_proxy makes ws_context_create fail when proxy_from_env is on, and an explicit proxy
   wins over the environment.  No connection is made: tests/proxy.rs drives a real proxy.  */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
setter_checks (void)
{
  ws_options *s = ws_options_new (WS_MODE_SERVER);
  ws_options *c = ws_options_new (WS_MODE_CLIENT);
  const char *bad[] = { "", "proxy:3128", "https://proxy:3128", "socks5://proxy:1080",
                        "http://", "http://:3128", "http://proxy:0", "http://proxy:70000",
                        "http://proxy:3128/path", "http://proxy:3128\r\nX-Injected: 1",
                        "http://pro xy:3128", "http://[::1:3128", "http://user:secret" };
  size_t i;

  CHECK (s != NULL && c != NULL);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      CHECK_STATUS (ws_options_set_proxy (c, bad[i]), WS_ERR_INVALID_ARGUMENT);
      if (strstr (ws_last_error (), "proxy") == NULL)
        FAIL ("no clear message for \"%s\": \"%s\"", bad[i], ws_last_error ());
      if (strstr (ws_last_error (), "secret") != NULL)
        FAIL ("the message shows the password: \"%s\"", ws_last_error ());
    }
  CHECK_STATUS (ws_options_set_proxy (NULL, "http://127.0.0.1:3128"), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_proxy (s, "http://127.0.0.1:3128"), WS_ERR_INVALID_ARGUMENT);
  CHECK (strstr (ws_last_error (), "client") != NULL);
  CHECK_STATUS (ws_options_set_proxy_from_env (s, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_options_set_proxy_from_env (NULL, 1), WS_ERR_INVALID_ARGUMENT);
  CHECK_OK (ws_options_set_proxy (c, "http://127.0.0.1:3128"));
  CHECK_OK (ws_options_set_proxy (c, "http://user:p%40ss@proxy.example"));
  CHECK_OK (ws_options_set_proxy (c, "http://[::1]:3128/"));
  CHECK_OK (ws_options_set_proxy (c, NULL));
  CHECK_OK (ws_options_set_proxy_from_env (c, 1));
  CHECK_OK (ws_options_set_proxy_from_env (c, 0));
  ws_options_free (s);
  ws_options_free (c);
}

/* A client options object for 127.0.0.1:9 that reads the environment.  */
static ws_options *
env_client (void)
{
  ws_options *c = ws_options_new (WS_MODE_CLIENT);
  CHECK (c != NULL);
  CHECK_OK (ws_options_set_port (c, 9));
  CHECK_OK (ws_options_set_proxy_from_env (c, 1));
  return c;
}

static void
environment_checks (void)
{
  ws_options *c;
  ws_context *ctx = NULL;

  /* Malformed: creation fails and names the variable, not its text.  */
  CHECK (setenv ("http_proxy", "ftp://user:secret@proxy:21", 1) == 0);
  CHECK (unsetenv ("no_proxy") == 0 && unsetenv ("NO_PROXY") == 0);
  c = env_client ();
  CHECK_STATUS (ws_context_create (c, &ctx), WS_ERR_INVALID_ARGUMENT);
  CHECK (strstr (ws_last_error (), "http_proxy") != NULL);
  CHECK (strstr (ws_last_error (), "secret") == NULL);
  CHECK (ctx == NULL);
  /* no_proxy naming the server: the malformed variable is never used.  */
  CHECK (setenv ("no_proxy", "example.com,127.0.0.1", 1) == 0);
  CHECK_OK (ws_context_create (c, &ctx));
  CHECK_U64 (destroy_or_die (ctx, 1000), 0);
  ctx = NULL;
  CHECK (unsetenv ("no_proxy") == 0);
  /* An explicit proxy wins over the environment.  */
  CHECK_OK (ws_options_set_proxy (c, "http://127.0.0.1:9"));
  CHECK_OK (ws_context_create (c, &ctx));
  CHECK_U64 (destroy_or_die (ctx, 1000), 0);
  ws_options_free (c);
  CHECK (unsetenv ("http_proxy") == 0);
}

int
main (void)
{
  setter_checks ();
  environment_checks ();
  printf ("test_proxy_args: ok\n");
  return 0;
}
