//! The C-visible types of the contract: status codes, enums, the callback table and the stats
//! record. Enums are exported for the header, but values coming *from* C are taken as plain
//! integers (the `Raw*` aliases, printed under the enum's name) and checked, because an
//! out-of-range value in a Rust enum would be undefined behaviour.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// One endpoint: a client (with its reconnects) or a listening server. Opaque: a `ws_context *`
/// is a handle, not an address (never dereference it). Calls racing `ws_context_destroy` from
/// another thread complete or answer WS_ERR_CLOSED; after destroy returned, every function answers
/// WS_ERR_INVALID_ARGUMENT for it, even when new contexts were created since (handles are never
/// reused).
pub struct ws_context {
    _private: [u8; 0],
}

/// Opaque builder for a context's options; see `ws_options_new`.
pub struct ws_options {
    _private: [u8; 0],
}

/// A WebSocket upgrade request being decided by a handshake filter; read it with the
/// `ws_request_*` functions. Opaque, and valid only during the filter call that receives it.
pub struct ws_handshake_request {
    _private: [u8; 0],
}

/// One peer connection; never reused within a context; 0 names none (for a client's sends:
/// "the connection, whichever it is now").
pub type ws_conn_id = u64;

/// Status codes answered by every fallible function.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ws_status {
    /// Success.
    WS_OK = 0,
    /// NULL where not allowed, bad UTF-8 in a text frame, bad port, wrong mode ...
    WS_ERR_INVALID_ARGUMENT = -1,
    /// Backpressure: nothing was queued, try again later.
    WS_ERR_QUEUE_FULL = -2,
    /// That connection id is unknown or already closed.
    WS_ERR_NOT_CONNECTED = -3,
    /// The context is shutting down (or stopped for good after an internal error).
    WS_ERR_CLOSED = -4,
    /// Message above max_message_size.
    WS_ERR_TOO_LARGE = -5,
    /// Bind, connect, socket errors.
    WS_ERR_IO = -6,
    /// Certificate/key/CA cannot be loaded, handshake or verification failed.
    WS_ERR_TLS = -7,
    /// A wait ran out of time.
    WS_ERR_TIMEOUT = -8,
    /// A bug: a Rust panic caught at the boundary. A panic on a context's I/O thread is reported
    /// through on_error with this status and leaves that context closed for good: its
    /// connections are closed (on_close runs, what they had queued is counted as dropped) and
    /// sends answer WS_ERR_CLOSED; destroy it and create another.
    WS_ERR_INTERNAL = -9,
}

/// What a context is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ws_mode {
    /// Connects to a server, reconnecting with backoff.
    WS_MODE_CLIENT = 0,
    /// Listens and accepts clients.
    WS_MODE_SERVER = 1,
}

/// Kind of a WebSocket data message.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ws_msg_type {
    /// UTF-8 text.
    WS_MSG_TEXT = 1,
    /// Arbitrary bytes.
    WS_MSG_BINARY = 2,
}

/// Where callbacks run.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ws_dispatch_mode {
    /// On the context's own I/O thread (default).
    WS_DISPATCH_THREAD = 0,
    /// Held until the application calls `ws_dispatch`; `ws_event_fd` is readable while any wait.
    WS_DISPATCH_MANUAL = 1,
}

/// What a server broadcast does with a subscriber whose queue is full.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ws_slow_policy {
    /// Close that subscriber with code 1008 (default).
    WS_SLOW_DISCONNECT = 0,
    /// Drop that subscriber's oldest queued message to make room.
    WS_SLOW_DROP_OLDEST = 1,
}

/// End-to-end acknowledgements (docs/acks.md), set with `ws_options_set_acknowledgements`.
/// Negotiated per connection in the opening handshake (`WS-API-Ack: 1`): a peer that does not
/// speak them gets a connection that works exactly as without them.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ws_ack_mode {
    /// No acknowledgements are offered or accepted (default).
    WS_ACK_OFF = 0,
    /// Server: a message is acknowledged to the client once its on_receive returned.
    /// Client: offer acknowledgements; keep each written message until the server acknowledges
    /// it, and resend it on the next connection if the server did not.
    WS_ACK_AUTO = 1,
    /// Server: the application acknowledges with `ws_acknowledge` once a message is safe on its
    /// side. Client: the same as WS_ACK_AUTO.
    WS_ACK_MANUAL = 2,
}

/// Severity of a diagnostic passed to the log handler.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ws_log_level {
    /// Something failed.
    WS_LOG_ERROR = 1,
    /// Something unusual that the library handled.
    WS_LOG_WARN,
    /// Connection-level events.
    WS_LOG_INFO,
    /// Detail for debugging.
    WS_LOG_DEBUG,
}

/// `ws_mode` as received from C (checked before use).
pub type RawMode = c_int;
/// `ws_msg_type` as received from C (checked before use).
pub type RawMsgType = c_int;
/// `ws_dispatch_mode` as received from C (checked before use).
pub type RawDispatchMode = c_int;
/// `ws_slow_policy` as received from C (checked before use).
pub type RawSlowPolicy = c_int;
/// `ws_log_level` as received from C (checked before use).
pub type RawLogLevel = c_int;
/// `ws_ack_mode` as received from C (checked before use).
pub type RawAckMode = c_int;
/// `ws_status` as received from C (checked before use).
pub type RawStatus = c_int;

/// Called once a connection is open (client: after each successful handshake).
pub type ws_on_connect_fn =
    Option<unsafe extern "C" fn(ctx: *mut ws_context, conn: ws_conn_id, user: *mut c_void)>;
/// Called with each complete message; `data` is valid only during the call. Return 0 to go on
/// reading this connection, non-zero to pause reading it (as `ws_rx_flow(ctx, conn, 0)`).
pub type ws_on_receive_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut ws_context,
        conn: ws_conn_id,
        data: *const u8,
        len: usize,
        type_: ws_msg_type,
        user: *mut c_void,
    ) -> c_int,
>;
/// Called once after `ws_request_writable` when the connection's queue has room.
pub type ws_on_writable_fn =
    Option<unsafe extern "C" fn(ctx: *mut ws_context, conn: ws_conn_id, user: *mut c_void)>;
/// Called once when a connection ends, with the close code (1006 when no close frame came).
pub type ws_on_close_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut ws_context,
        conn: ws_conn_id,
        code: u16,
        reason: *const c_char,
        user: *mut c_void,
    ),
>;
/// Called when something fails (conn is 0 when no connection is concerned).
pub type ws_on_error_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut ws_context,
        conn: ws_conn_id,
        status: ws_status,
        message: *const c_char,
        user: *mut c_void,
    ),
>;

/// The callback table; any member may be NULL.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ws_callbacks {
    /// A connection opened.
    pub on_connect: ws_on_connect_fn,
    /// A message arrived; return non-zero to pause reading this connection.
    pub on_receive: ws_on_receive_fn,
    /// The connection's queue has room again (after `ws_request_writable`).
    pub on_writable: ws_on_writable_fn,
    /// A connection closed.
    pub on_close: ws_on_close_fn,
    /// Something failed.
    pub on_error: ws_on_error_fn,
}

/// Counters of a context. The caller sets `struct_size` to `sizeof(ws_stats)`; fields beyond it
/// are not written, so older callers keep working when fields are added.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ws_stats {
    /// Caller sets sizeof(ws_stats).
    pub struct_size: u32,
    /// Connections open now.
    pub connections_current: u64,
    /// Connections opened since creation.
    pub connections_total: u64,
    /// Client: connection attempts after the first.
    pub reconnects: u64,
    /// Messages written to a socket (a broadcast counts once per subscriber).
    pub messages_sent: u64,
    /// Payload bytes of those messages.
    pub bytes_sent: u64,
    /// Messages delivered to on_receive.
    pub messages_received: u64,
    /// Payload bytes of those messages.
    pub bytes_received: u64,
    /// Accepted by ws_send/ws_broadcast, not yet written to a socket.
    pub messages_queued: u64,
    /// Dropped by an explicit policy (slow subscriber, closed connection, destroy timeout).
    pub messages_dropped: u64,
    /// Calls answered WS_ERR_QUEUE_FULL.
    pub send_rejected: u64,
    /// Errors reported through on_error.
    pub errors: u64,
    /// Server: handshakes answered with an HTTP refusal (4xx or 5xx) instead of 101: wrong
    /// path, bad request, Origin not allowed, missing or wrong token, filter, over
    /// max_connections, malformed replay `since`.
    pub handshakes_refused: u64,
    /// Bytes held now for incomplete incoming messages and read buffers, across connections
    /// (kept within ws_options_set_max_buffered_bytes; with permessage-deflate also each
    /// connection's inflater and a client's compressor), plus a server's broadcasts retained for
    /// replay (with deflate subscribers, their compressed copies too) and, on a client with
    /// acknowledgements, the written messages kept until acknowledged (uncompressed).
    pub buffered_bytes: u64,
    /// Client: every message accepted with a sequence number up to this one (see ws_send_seq)
    /// is written completely to the socket (the number on_sent reports, kept up to date whether
    /// or not on_sent is set); 0 before the first. Always 0 for a server.
    pub messages_sent_seq: u64,
    /// Client with acknowledgements: every message accepted with a sequence number up to this
    /// one is acknowledged by the server (the number on_acked reports, kept up to date whether
    /// or not on_acked is set); 0 before the first, and always 0 without acknowledgements.
    pub messages_acked_seq: u64,
    /// Client with acknowledgements: messages written again on a later connection because the
    /// one that wrote them ended before the server acknowledged them (the duplicates the server
    /// may have received; each is also counted in messages_sent).
    pub messages_resent: u64,
    /// Open connections that negotiated permessage-deflate (see ws_options_set_compression).
    pub connections_compressed: u64,
}

/// A server's handshake filter (see `ws_options_set_handshake_filter`): answers 0 to accept the
/// request, or an HTTP status 400..599 to refuse it with (any other answer refuses with 500 and
/// logs an error). `req` and every string read from it are valid only during the call.
pub type ws_handshake_filter_fn =
    Option<unsafe extern "C" fn(req: *const ws_handshake_request, user: *mut c_void) -> c_int>;

/// The written-messages callback (see `ws_options_set_on_sent`): every message the client
/// context accepted with a sequence number up to and including `upto_seq` has been written
/// completely to the socket; `conn` is the connection that wrote the last of them.
pub type ws_on_sent_fn = Option<
    unsafe extern "C" fn(ctx: *mut ws_context, conn: ws_conn_id, upto_seq: u64, user: *mut c_void),
>;

/// The acknowledged-messages callback (see `ws_options_set_on_acked`): every message the client
/// context accepted with a sequence number up to and including `upto_seq` is acknowledged by
/// the server; `conn` is the connection that received the acknowledgement.
pub type ws_on_acked_fn = Option<
    unsafe extern "C" fn(ctx: *mut ws_context, conn: ws_conn_id, upto_seq: u64, user: *mut c_void),
>;

/// The log handler's signature.
pub type ws_log_fn =
    Option<unsafe extern "C" fn(lvl: ws_log_level, msg: *const c_char, user: *mut c_void)>;
