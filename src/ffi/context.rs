//! `ws_context` and the functions that act on one. Every function here finds its context through
//! `handles` (a `ws_context *` is a generation-numbered handle, not an address), which keeps it
//! alive for the length of the call: a call racing `ws_context_destroy` completes or answers
//! WS_ERR_CLOSED, and a destroyed handle answers WS_ERR_INVALID_ARGUMENT for ever.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::time::Duration;

use super::callback;
use super::errors::{guard, guard_value};
use super::handles;
use super::ptr::{self, UserPtr};
use super::types::{
    ws_callbacks, ws_conn_id, ws_context, ws_msg_type, ws_options, ws_stats, ws_status, RawMsgType,
};
use crate::engine::{Error, Handler, MsgKind};

/// Whether `c` is a context created by ws_context_create and not yet destroyed.
pub fn is_live(c: *const ws_context) -> bool {
    handles::is_live(c)
}

/// Calls the application's callbacks; runs on the I/O thread (or the dispatching thread).
struct CHandler {
    /// The context's handle (a number, not an address).
    ctx: usize,
    cbs: ws_callbacks,
    user: UserPtr,
    /// ws_options_set_on_sent's callback and its own user pointer.
    on_sent: Option<(OnSentFn, UserPtr)>,
    /// ws_options_set_on_acked's callback and its own user pointer.
    on_acked: Option<(OnSentFn, UserPtr)>,
}

/// The C type of on_sent (and on_acked), without the Option.
type OnSentFn = unsafe extern "C" fn(*mut ws_context, ws_conn_id, u64, *mut c_void);

impl CHandler {
    fn call<R>(&self, f: impl FnOnce(*mut ws_context, *mut c_void) -> R) -> R {
        callback::run(|| f(self.ctx as *mut ws_context, self.user.get()))
    }
}

fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl Handler for CHandler {
    fn on_sent(&mut self, conn: u64, upto_seq: u64) {
        if let Some((f, user)) = self.on_sent {
            callback::run(|| {
                // SAFETY: the application registered this callback with this user pointer.
                unsafe { f(self.ctx as *mut ws_context, conn, upto_seq, user.get()) }
            });
        }
    }

    fn on_acked(&mut self, conn: u64, upto_seq: u64) {
        if let Some((f, user)) = self.on_acked {
            callback::run(|| {
                // SAFETY: the application registered this callback with this user pointer.
                unsafe { f(self.ctx as *mut ws_context, conn, upto_seq, user.get()) }
            });
        }
    }

    fn on_connect(&mut self, conn: u64) {
        if let Some(f) = self.cbs.on_connect {
            // SAFETY: the application registered this callback with this user pointer.
            self.call(|ctx, user| unsafe { f(ctx, conn, user) });
        }
    }

    fn on_receive(&mut self, conn: u64, data: &[u8], kind: MsgKind) -> bool {
        match self.cbs.on_receive {
            Some(f) => {
                let t = match kind {
                    MsgKind::Text => ws_msg_type::WS_MSG_TEXT,
                    MsgKind::Binary => ws_msg_type::WS_MSG_BINARY,
                };
                // SAFETY: as above; `data` outlives the call.
                self.call(|ctx, user| unsafe { f(ctx, conn, data.as_ptr(), data.len(), t, user) })
                    != 0
            }
            None => false,
        }
    }

    fn on_writable(&mut self, conn: u64) {
        if let Some(f) = self.cbs.on_writable {
            // SAFETY: as above.
            self.call(|ctx, user| unsafe { f(ctx, conn, user) });
        }
    }

    fn on_close(&mut self, conn: u64, code: u16, reason: &str) {
        if let Some(f) = self.cbs.on_close {
            let r = c_text(reason);
            // SAFETY: as above; `r` outlives the call.
            self.call(|ctx, user| unsafe { f(ctx, conn, code, r.as_ptr(), user) });
        }
    }

    fn on_error(&mut self, conn: u64, err: &Error) {
        if let Some(f) = self.cbs.on_error {
            let m = c_text(&err.message);
            let st = super::errors::status_of(err.kind);
            // SAFETY: as above; `m` outlives the call.
            self.call(|ctx, user| unsafe { f(ctx, conn, st, m.as_ptr(), user) });
        }
    }
}

fn msg_kind(t: RawMsgType) -> Result<MsgKind, Error> {
    match t {
        x if x == ws_msg_type::WS_MSG_TEXT as RawMsgType => Ok(MsgKind::Text),
        x if x == ws_msg_type::WS_MSG_BINARY as RawMsgType => Ok(MsgKind::Binary),
        _ => Err(Error::invalid(format!(
            "message type {t} is neither WS_MSG_TEXT nor WS_MSG_BINARY"
        ))),
    }
}

/// Creates a context from `o` (which the caller still owns and frees). Server: binds at once, so
/// a port in use or unreadable TLS files fail here. Client: returns at once and connects in the
/// background, reporting failures through on_error and retrying with backoff until destroy.
///
/// `*out` receives an opaque handle, not an address: it stays valid until ws_context_destroy
/// returns, and is never reused afterwards (a destroyed handle answers WS_ERR_INVALID_ARGUMENT
/// in every function, even when contexts were created since).
#[no_mangle]
pub extern "C" fn ws_context_create(o: *const ws_options, out: *mut *mut ws_context) -> ws_status {
    guard("ws_context_create", || {
        let out = ptr::try_out(out, "ws_context_create: out")?;
        // A failure leaves NULL behind.
        out.write(std::ptr::null_mut());
        let opts = ptr::try_ref(o, "ws_context_create: options")?;
        let (cbs, user) = opts.callbacks.unwrap_or((
            ws_callbacks {
                on_connect: None,
                on_receive: None,
                on_writable: None,
                on_close: None,
                on_error: None,
            },
            UserPtr::new(std::ptr::null_mut()),
        ));
        let live = handles::insert(crate::engine::Context::create(opts.config.clone())?)?;
        let started = live.ctx().start(Box::new(CHandler {
            ctx: live.handle() as usize,
            cbs,
            user,
            on_sent: opts.on_sent,
            on_acked: opts.on_acked,
        }));
        if let Err(e) = started {
            // Never published to the caller: nobody else holds it.
            handles::remove(&live);
            return Err(e);
        }
        out.write(live.handle());
        Ok(())
    })
}

/// Copies the message and queues it; never blocks. Client: `conn` 0 is the current connection
/// (messages queued while disconnected go out after the next connect, in order). Server: `conn`
/// names one client. Text must be valid UTF-8. A full queue answers WS_ERR_QUEUE_FULL and
/// queues nothing. During ws_context_destroy (from another thread): WS_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn ws_send(
    c: *mut ws_context,
    conn: ws_conn_id,
    data: *const c_void,
    len: usize,
    type_: RawMsgType,
) -> ws_status {
    guard("ws_send", || {
        handles::get(c, "ws_send")?.ctx().send(
            conn,
            ptr::try_bytes(data, len, "data")?,
            msg_kind(type_)?,
        )
    })
}

/// Client only: ws_send, also writing the message's sequence number to `*seq_out`. The client
/// context numbers the messages it accepts (from ws_send, ws_send_seq and ws_broadcast alike)
/// 1, 2, 3, ... in the order they enter its queue, which is the order they are written; a
/// refused message takes no number, and a message keeps its number when it is carried over to
/// the next connection. ws_options_set_on_sent and ws_stats.messages_sent_seq report how far
/// the written messages reach. `seq_out` must not be NULL (use ws_send); on failure it is set to
/// 0. A server context answers WS_ERR_INVALID_ARGUMENT and queues nothing.
#[no_mangle]
pub extern "C" fn ws_send_seq(
    c: *mut ws_context,
    conn: ws_conn_id,
    data: *const c_void,
    len: usize,
    type_: RawMsgType,
    seq_out: *mut u64,
) -> ws_status {
    guard("ws_send_seq", || {
        let out = ptr::try_out(seq_out, "ws_send_seq: seq_out")?;
        // Cleared first, so that a failure leaves 0 behind.
        out.write(0);
        let held = handles::get(c, "ws_send_seq")?;
        let e = held.ctx();
        if !e.is_client() {
            return Err(Error::invalid(
                "ws_send_seq applies to client mode only (a server numbers no messages)",
            ));
        }
        out.write(e.send_seq(conn, ptr::try_bytes(data, len, "data")?, msg_kind(type_)?)?);
        Ok(())
    })
}

/// Server: queues the message for every open connection, framed once into the context's
/// broadcast log, which each connection writes from its own position (one append, however many
/// subscribers). A subscriber more than queue_capacity broadcasts behind is handled by the slow
/// policy. A connection gets the broadcasts and its own ws_send messages in the order the calls
/// were made. Client: same as ws_send(c, 0, ...).
#[no_mangle]
pub extern "C" fn ws_broadcast(
    c: *mut ws_context,
    data: *const c_void,
    len: usize,
    type_: RawMsgType,
) -> ws_status {
    guard("ws_broadcast", || {
        handles::get(c, "ws_broadcast")?
            .ctx()
            .broadcast(ptr::try_bytes(data, len, "data")?, msg_kind(type_)?)
    })
}

/// Asks for one on_writable call for `conn` (client: 0 or the current id) when its queue has room.
#[no_mangle]
pub extern "C" fn ws_request_writable(c: *mut ws_context, conn: ws_conn_id) -> ws_status {
    guard("ws_request_writable", || {
        handles::get(c, "ws_request_writable")?
            .ctx()
            .request_writable(conn)
    })
}

/// Pauses (enable 0) or resumes reading from `conn`: TCP backpressure towards the peer.
/// WS_ERR_CLOSED once ws_context_destroy started.
#[no_mangle]
pub extern "C" fn ws_rx_flow(c: *mut ws_context, conn: ws_conn_id, enable: c_int) -> ws_status {
    guard("ws_rx_flow", || {
        handles::get(c, "ws_rx_flow")?
            .ctx()
            .rx_flow(conn, enable != 0)
    })
}

/// Starts the closing handshake of `conn` with `code` (1000, 1001, ... or 3000-4999) and `reason`
/// (NULL = none, at most 123 bytes of UTF-8). Messages queued before it are written first, for
/// up to handshake_timeout_ms (default 10 s; a peer that does not read cannot hold the connection
/// longer); the closing handshake then takes at most 2 s, and the lingering close after it at
/// most 2 s more. WS_ERR_CLOSED once ws_context_destroy started (destroy closes every connection
/// itself).
#[no_mangle]
pub extern "C" fn ws_close_connection(
    c: *mut ws_context,
    conn: ws_conn_id,
    code: u16,
    reason: *const c_char,
) -> ws_status {
    guard("ws_close_connection", || {
        let r = ptr::try_opt_str(reason, "reason")?.unwrap_or("");
        handles::get(c, "ws_close_connection")?
            .ctx()
            .close_connection(conn, code, r)
    })
}

/// Waits until every queued message reached the kernel, up to `timeout_ms` (WS_ERR_TIMEOUT then).
/// Called from a callback or the log handler it cannot wait: it answers WS_OK if nothing is
/// queued, else WS_ERR_TIMEOUT.
#[no_mangle]
pub extern "C" fn ws_flush(c: *mut ws_context, timeout_ms: u32) -> ws_status {
    guard("ws_flush", || {
        let t = if callback::in_callback() {
            0
        } else {
            timeout_ms
        };
        handles::get_owned(c, "ws_flush")?
            .ctx()
            .flush(Duration::from_millis(t.into()))
    })
}

/// Stops new sends, writes what is queued for up to `drain_timeout_ms`, closes every connection
/// with 1001, joins the I/O thread and frees the context. `unsent_out` (may be NULL) receives how
/// many messages were still queued (they are counted as dropped).
///
/// Lifetime rules: calls on the same context from other threads while it runs are safe: each
/// completes or answers WS_ERR_CLOSED (a second destroy answers WS_ERR_CLOSED too). Once it has
/// returned, the handle is dead for good: every function answers WS_ERR_INVALID_ARGUMENT for it,
/// even after new contexts were created. Refused (WS_ERR_INVALID_ARGUMENT) inside any callback
/// and inside the log handler, on any thread.
#[no_mangle]
pub extern "C" fn ws_context_destroy(
    c: *mut ws_context,
    drain_timeout_ms: u32,
    unsent_out: *mut u64,
) -> ws_status {
    guard("ws_context_destroy", || {
        let unsent_out = ptr::opt_out(unsent_out);
        let live = handles::begin_destroy(c, "ws_context_destroy", |ctx| {
            if callback::in_callback() || ctx.on_io_thread() {
                Err(Error::invalid(
                    "ws_context_destroy cannot be called from inside a callback or the log \
                     handler",
                ))
            } else {
                Ok(())
            }
        })?;
        let unsent = live
            .ctx()
            .shutdown(Duration::from_millis(drain_timeout_ms.into()));
        handles::remove(&live);
        if let Some(out) = unsent_out {
            out.write(unsent);
        }
        Ok(())
    })
}

/// The bound port of a server (useful with port 0); a client's configured port; 0 for NULL or a
/// destroyed context.
#[no_mangle]
pub extern "C" fn ws_local_port(c: *const ws_context) -> u16 {
    guard_value(0, || {
        handles::get(c, "ws_local_port").map_or(0, |l| l.ctx().local_port())
    })
}

/// Extension: the peer of a connection, from its on_connect until its on_close is called (with
/// WS_DISPATCH_MANUAL: until its on_close is dispatched, so events that precede it can still
/// ask). Client: 0 or the current id names the server it is connected to. Server behind a
/// trusted reverse proxy (ws_options_add_trusted_proxy): the client its Forwarded /
/// X-Forwarded-For header names, port 0 when the header gives none. Writes the numeric address
/// (e.g. "127.0.0.1" or "::1") as a NUL-terminated string into `ip` (`ip_len` bytes; 46 always
/// suffice) and the port into `*port` (may be NULL).
/// WS_ERR_NOT_CONNECTED for an unknown or closed connection, WS_ERR_INVALID_ARGUMENT when `ip`
/// is NULL or too small.
#[no_mangle]
pub extern "C" fn ws_peer_address(
    c: *const ws_context,
    conn: ws_conn_id,
    ip: *mut c_char,
    ip_len: usize,
    port: *mut u16,
) -> ws_status {
    guard("ws_peer_address", || {
        let ip = ptr::try_out_text(ip, ip_len, "ws_peer_address: ip")?;
        let addr = handles::get(c, "ws_peer_address")?
            .ctx()
            .peer_address(conn)?;
        ip.write(&addr.ip().to_string(), "ws_peer_address: ip_len")?;
        if let Some(p) = ptr::opt_out(port) {
            p.write(addr.port());
        }
        Ok(())
    })
}

/// Copies the counters into `out`, writing only the fields that fit in `out->struct_size`.
#[no_mangle]
pub extern "C" fn ws_get_stats(c: *const ws_context, out: *mut ws_stats) -> ws_status {
    guard("ws_get_stats", || {
        let out = ptr::try_sized_out(out, "ws_get_stats: out")?;
        let s = handles::get(c, "ws_get_stats")?.ctx().stats();
        out.write(&ws_stats {
            struct_size: out.size() as u32,
            connections_current: s.connections_current,
            connections_total: s.connections_total,
            reconnects: s.reconnects,
            messages_sent: s.messages_sent,
            bytes_sent: s.bytes_sent,
            messages_received: s.messages_received,
            bytes_received: s.bytes_received,
            messages_queued: s.messages_queued,
            messages_dropped: s.messages_dropped,
            send_rejected: s.send_rejected,
            errors: s.errors,
            handshakes_refused: s.handshakes_refused,
            buffered_bytes: s.buffered_bytes,
            messages_sent_seq: s.messages_sent_seq,
            messages_acked_seq: s.messages_acked_seq,
            messages_resent: s.messages_resent,
        });
        Ok(())
    })
}

/// WS_DISPATCH_MANUAL: a file descriptor that is readable while callbacks wait for ws_dispatch;
/// -1 otherwise (and for NULL or a destroyed context). Owned by the context: do not close it.
#[no_mangle]
pub extern "C" fn ws_event_fd(c: *const ws_context) -> c_int {
    guard_value(-1, || {
        handles::get(c, "ws_event_fd")
            .ok()
            .and_then(|l| l.ctx().event_fd())
            .unwrap_or(-1)
    })
}

/// WS_DISPATCH_MANUAL: runs up to `max_events` pending callbacks (0 = all) on this thread.
#[no_mangle]
pub extern "C" fn ws_dispatch(c: *mut ws_context, max_events: u32) -> ws_status {
    guard("ws_dispatch", || {
        handles::get_owned(c, "ws_dispatch")?
            .ctx()
            .dispatch(max_events as usize)
    })
}

/// Server with acknowledgements (docs/acks.md): the number of the message of `conn` being
/// delivered, when called inside its on_receive (under WS_DISPATCH_MANUAL too), or of the last
/// one delivered otherwise. Messages are numbered 1, 2, 3, ... per connection in order of
/// arrival. 0 before the first message, on a connection that did not negotiate
/// acknowledgements (its client did not offer them, or this context has WS_ACK_OFF), after its
/// on_close, and for NULL or a destroyed context.
#[no_mangle]
pub extern "C" fn ws_received_seq(c: *const ws_context, conn: ws_conn_id) -> u64 {
    guard_value(0, || {
        handles::get(c, "ws_received_seq")
            .map(|l| l.ctx().received_seq(conn))
            .unwrap_or(0)
    })
}

/// Server with WS_ACK_MANUAL (docs/acks.md): every message of `conn` numbered up to and
/// including `seq` (see ws_received_seq) is safe on this side; the client is told, batched
/// (within 5 ms), and may forget them. Cumulative: acknowledging 10 covers 1..10. Any thread,
/// inside or outside a callback. `seq` 0 or a number already acknowledged changes nothing and
/// answers WS_OK (so a connection without acknowledgements, whose ws_received_seq is 0, needs
/// no special case). `seq` beyond the last message delivered to on_receive answers
/// WS_ERR_INVALID_ARGUMENT, as does a connection that is not open (after its on_close) or did
/// not negotiate acknowledgements. Under WS_ACK_AUTO the engine acknowledges on its own and
/// this call only acknowledges earlier.
#[no_mangle]
pub extern "C" fn ws_acknowledge(c: *mut ws_context, conn: ws_conn_id, seq: u64) -> ws_status {
    guard("ws_acknowledge", || {
        handles::get(c, "ws_acknowledge")?
            .ctx()
            .acknowledge(conn, seq)
    })
}
