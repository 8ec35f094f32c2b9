/* ws_peer_address (extension): the numeric address and port of a connection's peer, on the
   server (checked against a raw client's own socket name) and on the client (its server);
   NULL or small buffers, unknown ids and a client without connection answer the documented
   statuses.  */

#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main (void)
{
  recorder srv, cli;
  ws_context *server, *client;
  char ip[46];
  uint16_t port = 0;
  struct sockaddr_in me;
  socklen_t mlen = sizeof me;
  int fd, dead_fd;

  recorder_init (&srv, "server");
  recorder_init (&cli, "client");
  server = start_server (&srv);

  /* A raw WebSocket peer whose own port we know.  */
  fd = raw_connect (ws_local_port (server));
  CHECK (getsockname (fd, (struct sockaddr *) &me, &mlen) == 0);
  CHECK_INT (raw_handshake (fd, "/"), 101);
  WAIT_UNTIL (srv.connects == 1);
  memset (ip, 'x', sizeof ip);
  CHECK_OK (ws_peer_address (server, srv.last_connect, ip, sizeof ip, &port));
  CHECK (strcmp (ip, "127.0.0.1") == 0);
  CHECK_INT (port, ntohs (me.sin_port));
  /* port may be NULL.  */
  CHECK_OK (ws_peer_address (server, srv.last_connect, ip, sizeof ip, NULL));
  /* Exactly enough room ("127.0.0.1" + NUL = 10) works; one byte less does not.  */
  CHECK_OK (ws_peer_address (server, srv.last_connect, ip, 10, NULL));
  CHECK_STATUS (ws_peer_address (server, srv.last_connect, ip, 9, NULL),
                WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_peer_address (server, srv.last_connect, NULL, 46, &port),
                WS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS (ws_peer_address (server, srv.last_connect + 100, ip, sizeof ip, &port),
                WS_ERR_NOT_CONNECTED);
  CHECK_STATUS (ws_peer_address (NULL, 1, ip, sizeof ip, &port), WS_ERR_INVALID_ARGUMENT);
  close (fd);
  WAIT_UNTIL (srv.closes == 1);
  CHECK_STATUS (ws_peer_address (server, srv.last_close_conn, ip, sizeof ip, &port),
                WS_ERR_NOT_CONNECTED);

  /* The client's peer is its server.  */
  client = start_client (&cli, ws_local_port (server));
  WAIT_UNTIL (cli.connects == 1);
  port = 0;
  CHECK_OK (ws_peer_address (client, 0, ip, sizeof ip, &port));
  CHECK (strcmp (ip, "127.0.0.1") == 0);
  CHECK_INT (port, ws_local_port (server));
  CHECK_OK (ws_peer_address (client, cli.last_connect, ip, sizeof ip, &port));
  CHECK_STATUS (ws_peer_address (client, cli.last_connect + 1, ip, sizeof ip, &port),
                WS_ERR_NOT_CONNECTED);
  CHECK_U64 (destroy_or_die (client, 1000), 0);
  CHECK_U64 (destroy_or_die (server, 1000), 0);

  /* A client that never connected has no peer.  */
  recorder_init (&cli, "lonely client");
  client = start_client (&cli, dead_port (&dead_fd));
  CHECK_STATUS (ws_peer_address (client, 0, ip, sizeof ip, &port), WS_ERR_NOT_CONNECTED);
  destroy_or_die (client, 0);
  close (dead_fd);
  return 0;
}
