/*
 * ws_api/client.h: the 2016 ws_api client functions, kept so that code written for the
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

#ifndef WEBSOCKET_CLIENT_H_INCLUDED
#define WEBSOCKET_CLIENT_H_INCLUDED

/* The 2016 header reached <stdio.h> through <libwebsockets.h>, and its examples called printf
   with nothing else included: keep that working without pulling libwebsockets in.  */
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2016: size of one SysV queue slot, the longest message.  Unused now: messages of any length
   up to the engine's max_message_size (16 MiB) are sent whole.  */
#define CLIENT_RX_BUFFER_BYTES 1024
/* 2016: slots of the client's ring buffer.  Unused now (the queue holds 65536 messages).  */
#define CLIENT_MAX_MESSAGE_QUEUE 1024

/* 2016: one SysV message queue entry.  Unused now; kept for source compatibility.  */
struct client_msg_buf
{
  long mtype;
  char data[CLIENT_RX_BUFFER_BYTES];
};

/**
 * websocket_client_create - start a client of ws[s]://ADDRESS:PORT/PATH
 *
 * @protocol    Sec-WebSocket-Protocol to ask for; NULL or "" for none
 * @address     server host name or IP address
 * @port        server port, 1..65535
 * @path        request path; NULL means "/"
 * @use_ssl     0: plain ws://; 1: TLS, the server's certificate verified;
 *              2: TLS, a self-signed server certificate accepted
 * @cert        (optional, NULL) client certificate (PEM file) for TLS
 * @key         (optional, NULL) private key of @cert (PEM file)
 * @cacert      (optional, NULL) CA certificates (PEM file) trusted to verify the server
 * @msgqid      receives the handle to pass to websocket_client_send_msg
 * @service_pid receives the handle to pass to websocket_client_disconnect
 *
 * Returns at once and connects in the background; a connection that fails or drops is retried
 * with exponential backoff until websocket_client_disconnect.  *msgqid and *service_pid receive
 * the same positive handle (no process or message queue exists); handles are never reused
 * within a process.
 *
 * Returns 0 on success, -1 on a bad argument or when the client cannot be set up (TLS files
 * unreadable, ...), with ws_last_error () set.
 */
int websocket_client_create (char *protocol, char *address, int port, char *path,
                             int use_ssl, char *cert, char *key, char *cacert,
                             int *msgqid, int *service_pid);

/**
 * websocket_client_disconnect - deliver what is queued, close and free the client
 *
 * @service_pid the handle from websocket_client_create
 *
 * Waits until every queued message reached the kernel (at most 5 seconds; what is left after
 * that is dropped), closes the connection with code 1000 and frees the handle.  An unknown or
 * already disconnected handle does nothing.
 */
void websocket_client_disconnect (int service_pid);

/**
 * websocket_client_send_msg - queue a message for the server
 *
 * @msg    NUL-terminated message, sent whole (any length up to 16 MiB) as one text frame, or
 *         as one binary frame when it is not valid UTF-8
 * @msgqid the handle from websocket_client_create
 * @port   ignored (kept for the 2016 prototype)
 *
 * Copies the message and queues it; never blocks.  Messages queued while the client is not
 * connected are sent, in order, once it is.
 *
 * Returns 0 when queued; -1 (ws_last_error () set) when the queue is full (65536 messages),
 * the message is too large, @msg is NULL or the handle is unknown.
 */
int websocket_client_send_msg (char *msg, int msgqid, int port);

#ifdef __cplusplus
}
#endif

#endif /* WEBSOCKET_CLIENT_H_INCLUDED */
