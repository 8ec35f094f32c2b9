/* The 2016 client_example.c and server_example.c, as two processes talking to each other
   through the 2016 headers: the same calls in the same order (create with &msgqid and
   &service_pid, a loop of sends or broadcasts with the msgqid and the port, then disconnect or
   shutdown with the service_pid).  Only what the 2016 examples could not do is added: the
   server reads its received-messages pipe with a plain read () loop and checks every line, the
   port is chosen by the system (port 0) and handed to the client, and nothing sleeps.

   2016 failures this catches: a message longer than 1024 bytes cut to 1024 bytes, messages
   lost when the client disconnects right after sending, no framing in the pipe, no end of file
   on the pipe after shutdown.  */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ws_api/client.h>
#include <ws_api/server.h>

#define N_SENDS 10
#define LONG_LEN 3000           /* well above the 2016 limit of 1024 bytes */

static char long_msg[LONG_LEN + 1];

static void
make_long_msg (void)
{
  int i;

  for (i = 0; i < LONG_LEN; i++)
    long_msg[i] = 'a' + i % 26;
  long_msg[LONG_LEN] = '\0';
}

/* client_example.c, with the port received from the server process.  */
static int
client_main (int port)
{
  int i, msgqid, service_pid;
  if (websocket_client_create ("example-protocol", "127.0.0.1", port, "/", 0, NULL, NULL, NULL,
                               &msgqid, &service_pid) != 0)
    {
      printf ("client create error\n");
      return -1;
    }

  for (i = 0; i < N_SENDS; ++i)
    {
      if (websocket_client_send_msg ("I'm client.", msgqid, port) != 0)
        {
          printf ("client send error\n");
          return -1;
        }
    }
  if (websocket_client_send_msg (long_msg, msgqid, port) != 0)
    {
      printf ("client send error (long message)\n");
      return -1;
    }
  websocket_client_disconnect (service_pid);
  return 0;
}

/* Reads one line (without its "\n") from FD into BUF with plain read () calls, one byte at a
   time so that nothing after the line is consumed.  Answers its length, -1 at end of file.  */
static long
read_line (int fd, char *buf, size_t cap)
{
  size_t n = 0;

  for (;;)
    {
      char c;
      ssize_t r = read (fd, &c, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          perror ("read");
          exit (1);
        }
      if (r == 0)
        return n == 0 ? -1 : (long) n;
      if (c == '\n')
        return (long) n;
      if (n + 1 >= cap)
        {
          printf ("line longer than %zu bytes\n", cap);
          exit (1);
        }
      buf[n++] = c;
      buf[n] = '\0';
    }
}

int
main (void)
{
  int sync_pipe[2];
  pid_t child;
  int i, msgqid, service_pid, fd, port, status;
  static char line[LONG_LEN + 100];
  long len;

  make_long_msg ();
  if (pipe (sync_pipe) != 0)
    {
      perror ("pipe");
      return 1;
    }
  /* Fork before any library thread exists; the client waits for the server's port.  */
  fflush (stdout);
  child = fork ();
  if (child < 0)
    {
      perror ("fork");
      return 1;
    }
  if (child == 0)
    {
      close (sync_pipe[1]);
      if (read (sync_pipe[0], &port, sizeof port) != (ssize_t) sizeof port)
        {
          printf ("client: no port from the server\n");
          exit (1);
        }
      close (sync_pipe[0]);
      exit (client_main (port) == 0 ? 0 : 1);
    }
  close (sync_pipe[0]);

  /* server_example.c, with the received-messages pipe and port 0.  */
  if (websocket_server_create ("example-protocol", 0, 0, NULL, NULL, NULL, &fd, &msgqid,
                               &service_pid) != 0)
    {
      printf ("server create error\n");
      return -1;
    }
  port = ws_legacy_local_port (service_pid);
  if (port <= 0 || msgqid <= 0 || service_pid <= 0)
    {
      printf ("bad port %d or handles %d, %d\n", port, msgqid, service_pid);
      return 1;
    }
  if (write (sync_pipe[1], &port, sizeof port) != (ssize_t) sizeof port)
    {
      perror ("write");
      return 1;
    }
  close (sync_pipe[1]);

  for (i = 0; i < N_SENDS; ++i)
    {
      len = read_line (fd, line, sizeof line);
      if (len < 0 || strcmp (line, "I'm client.") != 0)
        {
          printf ("line %d: got %ld bytes \"%.40s\", expected \"I'm client.\"\n", i, len,
                  len < 0 ? "" : line);
          return 1;
        }
    }
  len = read_line (fd, line, sizeof line);
  if (len != LONG_LEN || strcmp (line, long_msg) != 0)
    {
      printf ("long message: got %ld bytes, expected %d\n", len, LONG_LEN);
      return 1;
    }

  for (i = 0; i < N_SENDS; ++i)
    {
      /* A client may or may not still be connected: 0 either way.  */
      if (websocket_server_broadcast_msg ("I'm server", msgqid, port) != 0)
        {
          printf ("broadcast error\n");
          return 1;
        }
    }

  if (waitpid (child, &status, 0) != child || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      printf ("client process failed (status 0x%x)\n", status);
      return 1;
    }

  websocket_server_shutdown (service_pid);

  /* After shutdown the pipe ends: nothing more, then end of file.  */
  len = read_line (fd, line, sizeof line);
  if (len != -1)
    {
      printf ("unexpected line after the client's messages: \"%.40s\"\n", line);
      return 1;
    }
  close (fd);
  printf ("ok: %d messages and one of %d bytes through the pipe\n", N_SENDS, LONG_LEN);
  return 0;
}
