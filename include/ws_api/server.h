/*
 * ws_api/server.h: the 2016 ws_api server functions, kept so that code written for the
 * original libwebsockets wrapper (syslog-ng's websocket module) compiles and links unchanged.
 *
 * Same prototypes, macros and struct as in 2016, but a different implementation underneath
 * (the ws_api engine, see ws_api.h): no process is forked, no SysV message queue is created,
 * messages are not cut to 1024 bytes and nothing is polled.  The macros and the struct below
 * are kept only so that old code using them still compiles; the library does not use them.
 *
 * Every function is safe to call from any thread.  On failure, ws_last_error () (ws_api.h)
 * tells why.
 */

#ifndef WEBSOCKET_SERVER_H_INCLUDED
#define WEBSOCKET_SERVER_H_INCLUDED

/* The 2016 header included <stdio.h>, and its examples rely on it for printf.  */
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2016: slots of the broadcast ring buffer.  Unused now: a broadcast is appended once to the
   server's broadcast log, and a client may fall up to 65536 broadcasts behind (the engine's
   queue_capacity) before it is disconnected with 1008.  */
#define MAX_MESSAGE_QUEUE 512
/* 2016: libwebsockets receive buffer size.  Unused now.  */
#define EXAMPLE_RX_BUFFER_BYTES (100)
/* 2016: size of one SysV queue slot, the longest message.  Unused now: messages of any length
   up to the engine's max_message_size (16 MiB) are sent whole.  */
#define QUEUE_DATA_LEN 1024

/* 2016: one SysV message queue entry.  Unused now; kept for source compatibility.  */
struct msg_buf
{
  long mtype;
  char data[QUEUE_DATA_LEN];
};

/**
 * websocket_server_create - start a server listening on PORT on all interfaces
 *
 * @protocol    Sec-WebSocket-Protocol the server speaks; NULL or "" for none
 * @port        port to listen on, 1..65535; 0 picks a free port (see ws_legacy_local_port)
 * @use_ssl     non-zero: wss:// with @cert and @key
 * @cert        (with @use_ssl) server certificate (PEM file)
 * @key         (with @use_ssl) private key of @cert (PEM file)
 * @cacert      (optional, NULL) CA certificates (PEM file): when given, clients must present a
 *              certificate signed by one of them
 * @fd          (optional, NULL) receives the read end of a pipe that gets every message the
 *              server receives, each followed by "\n", in arrival order.  Nothing is dropped:
 *              while the pipe is full the server stops reading from its clients (TCP
 *              backpressure) and resumes when the pipe drains.  After websocket_server_shutdown
 *              the reader sees end of file.  The caller owns the descriptor and closes it.
 * @msgqid      receives the handle to pass to websocket_server_broadcast_msg
 * @service_pid receives the handle to pass to websocket_server_shutdown
 *
 * Binds before it returns.  *msgqid and *service_pid receive the same positive handle (no
 * process or message queue exists); handles are never reused within a process.
 *
 * Returns 0 on success, -1 (ws_last_error () set) on a bad argument, a port that cannot be
 * bound (in use, ...) or TLS files that cannot be loaded.
 */
int websocket_server_create (char *protocol, int port, int use_ssl, char *cert, char *key,
                             char *cacert, int *fd, int *msgqid, int *service_pid);

/**
 * websocket_server_shutdown - close every client and free the server
 *
 * @service_pid the handle from websocket_server_create
 *
 * Writes what is queued to the clients (at most 5 seconds), closes every client with code 1001
 * and frees the handle.  The received-messages pipe gets what was received before, then its
 * write end is closed (waiting at most 5 seconds for a reader to drain a full pipe; after that,
 * the rest is written in the background as the reader reads on).  A second call, or an unknown
 * handle, does nothing.
 */
void websocket_server_shutdown (int service_pid);

/**
 * websocket_server_broadcast_msg - queue a message for every connected client
 *
 * @msg    NUL-terminated message, sent whole (any length up to 16 MiB) as one text frame, or
 *         as one binary frame when it is not valid UTF-8
 * @msgqid the handle from websocket_server_create
 * @port   ignored (kept for the 2016 prototype)
 *
 * Never blocks.  The message is framed once into the server's broadcast log, which every client
 * is written from; a client more than 65536 broadcasts behind is disconnected (close code 1008).
 *
 * Returns 0 when queued for every client (also when none is connected); -1 (ws_last_error ()
 * set) when @msg is NULL, too large, or the handle is unknown.
 */
int websocket_server_broadcast_msg (char *msg, int msgqid, int port);

/* ---- ws_api extension (not in the 2016 API) ---- */

/**
 * ws_legacy_local_port - the port a server listens on
 *
 * @service_pid the handle from websocket_server_create
 *
 * Useful after websocket_server_create with port 0.  Returns the port, or -1 (ws_last_error ()
 * set) for a handle that is not a running server.
 */
int ws_legacy_local_port (int service_pid);

#ifdef __cplusplus
}
#endif

#endif /* WEBSOCKET_SERVER_H_INCLUDED */
