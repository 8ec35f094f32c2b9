/*
 * websocket-source-acks.h: the receiving side of end-to-end acknowledgements (docs/acks.md) for
 * the websocket() source with acknowledgements(yes).
 *
 * The engine numbers the messages of each connection that negotiated acknowledgements 1, 2,
 * 3, ... (ws_received_seq) and tells the sender "every message up to N is safe" when the
 * application says so (ws_acknowledge, cumulative). syslog-ng tells the source, message by
 * message and in any order, which messages are safe: each posted message carries a bookmark
 * (an instant ack tracker calls its save function when the message is acknowledged: written by
 * the destination under flow control, or stored by a reliable disk buffer). This object turns
 * those per-message acknowledgements into one cumulative ws_acknowledge per connection: a
 * connection's number advances only over a contiguous prefix of acknowledged messages.
 *
 * Shared (reference counted) by the binding and every bookmark in flight, so that a message
 * acknowledged after a reload or after its connection closed finds it; after the context is
 * gone (websocket_source_acks_detach) acknowledgements are ignored: the sender resends what
 * was not acknowledged.
 */

#ifndef WEBSOCKET_SOURCE_ACKS_H_INCLUDED
#define WEBSOCKET_SOURCE_ACKS_H_INCLUDED

#include "syslog-ng.h"
#include "ack-tracker/bookmark.h"
#include "ws_api.h"

typedef struct _WebsocketSourceAcks WebsocketSourceAcks;

/* Made before the context, so that no connection opens unseen; given the context once it exists. */
WebsocketSourceAcks *websocket_source_acks_new(void);
void websocket_source_acks_set_context(WebsocketSourceAcks *self, ws_context *ctx);
WebsocketSourceAcks *websocket_source_acks_ref(WebsocketSourceAcks *self);
void websocket_source_acks_unref(WebsocketSourceAcks *self);
/* The context is about to be destroyed: acknowledgements arriving later are ignored. */
void websocket_source_acks_detach(WebsocketSourceAcks *self);

/* A connection opened / closed (its numbers start again at 1 on a new connection). */
void websocket_source_acks_conn_open(WebsocketSourceAcks *self, ws_conn_id conn);
void websocket_source_acks_conn_close(WebsocketSourceAcks *self, ws_conn_id conn);

/* Makes `bookmark` acknowledge message `seq` of `conn` when syslog-ng saves it (the message is
   safe) and let go of it when syslog-ng destroys it. `seq` 0 (a connection without
   acknowledgements) leaves the bookmark untouched. */
void websocket_source_acks_fill_bookmark(WebsocketSourceAcks *self, Bookmark *bookmark, ws_conn_id conn,
                                         guint64 seq);

/* Message `seq` of `conn` is safe (any thread). */
void websocket_source_acks_message_safe(WebsocketSourceAcks *self, ws_conn_id conn, guint64 seq);
/* Message `seq` of `conn` was let go without being safe (syslog-ng aborted it): the connection
   is closed (1011), so that the sender sends it again instead of waiting for an
   acknowledgement that cannot come. Any thread. */
void websocket_source_acks_message_lost(WebsocketSourceAcks *self, ws_conn_id conn, guint64 seq);

#endif
