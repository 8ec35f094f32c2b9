//! `ws_context` and the functions that act on one. A context pointer is a boxed engine context;
//! live pointers are kept in a registry so that a second `ws_context_destroy` is answered with
//! WS_ERR_INVALID_ARGUMENT instead of touching freed memory.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::Mutex;
use std::time::Duration;

use super::errors::{guard, guard_value, str_arg};
use super::options::Options;
use super::types::{
    ws_callbacks, ws_conn_id, ws_context, ws_msg_type, ws_options, ws_stats, ws_status, RawMsgType,
};
use crate::engine::{Context, Error, Handler, MsgKind};

static LIVE: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

thread_local! {
    /// Depth of callbacks running on this thread: ws_context_destroy is refused inside one.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Runs application code that the library calls on its own thread outside the callback table
/// (the handshake filter) under the callbacks' rules: ws_context_destroy is refused inside it.
pub(crate) fn as_callback<R>(f: impl FnOnce() -> R) -> R {
    IN_CALLBACK.with(|d| d.set(d.get() + 1));
    let r = f();
    IN_CALLBACK.with(|d| d.set(d.get() - 1));
    r
}

fn live() -> std::sync::MutexGuard<'static, Option<HashSet<usize>>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `c` is a context created by ws_context_create and not yet destroyed.
pub fn is_live(c: *const ws_context) -> bool {
    live().as_ref().is_some_and(|s| s.contains(&(c as usize)))
}

/// Borrows the engine context behind a C pointer.
fn engine<'a>(c: *const ws_context, name: &str) -> Result<&'a Context, Error> {
    if c.is_null() {
        return Err(Error::invalid(format!("{name}: context is NULL")));
    }
    // SAFETY: non-NULL context pointers come from ws_context_create and stay valid until
    // ws_context_destroy (the caller's obligation).
    Ok(unsafe { &*(c as *const Context) })
}

/// Calls the application's callbacks; runs on the I/O thread (or the dispatching thread).
struct CHandler {
    ctx: usize,
    cbs: ws_callbacks,
    user: usize,
    /// ws_options_set_on_sent's callback and its own user pointer.
    on_sent: Option<(OnSentFn, usize)>,
}

/// The C type of on_sent, without the Option.
type OnSentFn = unsafe extern "C" fn(*mut ws_context, ws_conn_id, u64, *mut c_void);

impl CHandler {
    fn call<R>(&self, f: impl FnOnce(*mut ws_context, *mut c_void) -> R) -> R {
        IN_CALLBACK.with(|d| d.set(d.get() + 1));
        let r = f(self.ctx as *mut ws_context, self.user as *mut c_void);
        IN_CALLBACK.with(|d| d.set(d.get() - 1));
        r
    }
}

fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl Handler for CHandler {
    fn on_sent(&mut self, conn: u64, upto_seq: u64) {
        if let Some((f, user)) = self.on_sent {
            IN_CALLBACK.with(|d| d.set(d.get() + 1));
            // SAFETY: the application registered this callback with this user pointer.
            unsafe {
                f(
                    self.ctx as *mut ws_context,
                    conn,
                    upto_seq,
                    user as *mut c_void,
                )
            };
            IN_CALLBACK.with(|d| d.set(d.get() - 1));
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

fn payload<'a>(data: *const c_void, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::invalid("data is NULL"));
    }
    // SAFETY: the caller passes `len` readable bytes at `data`.
    Ok(unsafe { std::slice::from_raw_parts(data as *const u8, len) })
}

/// Creates a context from `o` (which the caller still owns and frees). Server: binds at once, so
/// a port in use or unreadable TLS files fail here. Client: returns at once and connects in the
/// background, reporting failures through on_error and retrying with backoff until destroy.
#[no_mangle]
pub extern "C" fn ws_context_create(o: *const ws_options, out: *mut *mut ws_context) -> ws_status {
    guard("ws_context_create", || {
        if o.is_null() || out.is_null() {
            return Err(Error::invalid("ws_context_create: options or out is NULL"));
        }
        // SAFETY: `out` is writable; clear it first so a failure leaves NULL behind.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: `o` came from ws_options_new (the caller's obligation).
        let opts = unsafe { &*(o as *const Options) };
        let ctx = Box::new(Context::create(opts.config.clone())?);
        let ptr = Box::into_raw(ctx);
        let (cbs, user) = opts.callbacks.unwrap_or((
            ws_callbacks {
                on_connect: None,
                on_receive: None,
                on_writable: None,
                on_close: None,
                on_error: None,
            },
            0,
        ));
        live().get_or_insert_with(HashSet::new).insert(ptr as usize);
        // SAFETY: `ptr` was just made from a Box and is not freed before ws_context_destroy.
        if let Err(e) = unsafe { &*ptr }.start(Box::new(CHandler {
            ctx: ptr as usize,
            cbs,
            user,
            on_sent: opts.on_sent,
        })) {
            live().as_mut().map(|s| s.remove(&(ptr as usize)));
            // SAFETY: not published to the caller; reclaim it.
            drop(unsafe { Box::from_raw(ptr) });
            return Err(e);
        }
        // SAFETY: checked non-NULL above.
        unsafe { *out = ptr as *mut ws_context };
        Ok(())
    })
}

/// Copies the message and queues it; never blocks. Client: `conn` 0 is the current connection
/// (messages queued while disconnected go out after the next connect, in order). Server: `conn`
/// names one client. Text must be valid UTF-8. A full queue answers WS_ERR_QUEUE_FULL and
/// queues nothing.
#[no_mangle]
pub extern "C" fn ws_send(
    c: *mut ws_context,
    conn: ws_conn_id,
    data: *const c_void,
    len: usize,
    type_: RawMsgType,
) -> ws_status {
    guard("ws_send", || {
        engine(c, "ws_send")?.send(conn, payload(data, len)?, msg_kind(type_)?)
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
        if seq_out.is_null() {
            return Err(Error::invalid("ws_send_seq: seq_out is NULL (use ws_send)"));
        }
        // SAFETY: non-NULL and writable (the caller's obligation); cleared first so that a
        // failure leaves 0 behind.
        unsafe { *seq_out = 0 };
        let e = engine(c, "ws_send_seq")?;
        if !e.is_client() {
            return Err(Error::invalid(
                "ws_send_seq applies to client mode only (a server numbers no messages)",
            ));
        }
        let seq = e.send_seq(conn, payload(data, len)?, msg_kind(type_)?)?;
        // SAFETY: as above.
        unsafe { *seq_out = seq };
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
        engine(c, "ws_broadcast")?.broadcast(payload(data, len)?, msg_kind(type_)?)
    })
}

/// Asks for one on_writable call for `conn` (client: 0 or the current id) when its queue has room.
#[no_mangle]
pub extern "C" fn ws_request_writable(c: *mut ws_context, conn: ws_conn_id) -> ws_status {
    guard("ws_request_writable", || {
        engine(c, "ws_request_writable")?.request_writable(conn)
    })
}

/// Pauses (enable 0) or resumes reading from `conn`: TCP backpressure towards the peer.
#[no_mangle]
pub extern "C" fn ws_rx_flow(c: *mut ws_context, conn: ws_conn_id, enable: c_int) -> ws_status {
    guard("ws_rx_flow", || {
        engine(c, "ws_rx_flow")?.rx_flow(conn, enable != 0)
    })
}

/// Starts the closing handshake of `conn` with `code` (1000, 1001, ... or 3000-4999) and `reason`
/// (NULL = none, at most 123 bytes of UTF-8). Messages queued before it are written first, for
/// up to handshake_timeout_ms (default 10 s; a peer that does not read cannot hold the connection
/// longer); the closing handshake then takes at most 2 s, and the lingering close after it at
/// most 2 s more.
#[no_mangle]
pub extern "C" fn ws_close_connection(
    c: *mut ws_context,
    conn: ws_conn_id,
    code: u16,
    reason: *const c_char,
) -> ws_status {
    guard("ws_close_connection", || {
        let r = if reason.is_null() {
            ""
        } else {
            // SAFETY: a NUL-terminated string.
            unsafe { str_arg(reason, "reason")? }
        };
        engine(c, "ws_close_connection")?.close_connection(conn, code, r)
    })
}

/// Waits until every queued message reached the kernel, up to `timeout_ms` (WS_ERR_TIMEOUT then).
/// Called from a callback it cannot wait: it answers WS_OK if nothing is queued, else WS_ERR_TIMEOUT.
#[no_mangle]
pub extern "C" fn ws_flush(c: *mut ws_context, timeout_ms: u32) -> ws_status {
    guard("ws_flush", || {
        let t = if IN_CALLBACK.with(|d| d.get()) > 0 {
            0
        } else {
            timeout_ms
        };
        engine(c, "ws_flush")?.flush(Duration::from_millis(t.into()))
    })
}

/// Stops new sends, writes what is queued for up to `drain_timeout_ms`, closes every connection
/// with 1001, joins the I/O thread and frees the context. `unsent_out` (may be NULL) receives how
/// many messages were still queued (they are counted as dropped). Refused inside a callback and
/// for a pointer that is not a live context.
#[no_mangle]
pub extern "C" fn ws_context_destroy(
    c: *mut ws_context,
    drain_timeout_ms: u32,
    unsent_out: *mut u64,
) -> ws_status {
    guard("ws_context_destroy", || {
        if c.is_null() {
            return Err(Error::invalid("ws_context_destroy: context is NULL"));
        }
        if IN_CALLBACK.with(|d| d.get()) > 0 {
            return Err(Error::invalid(
                "ws_context_destroy cannot be called from inside a callback",
            ));
        }
        let removed = live().as_mut().is_some_and(|s| s.remove(&(c as usize)));
        if !removed {
            return Err(Error::invalid(
                "ws_context_destroy: not a live context (already destroyed?)",
            ));
        }
        // SAFETY: `c` was live, so it came from Box::into_raw in ws_context_create; it is now
        // unregistered, so this is the only place that frees it.
        let ctx = unsafe { Box::from_raw(c as *mut Context) };
        let unsent = ctx.shutdown(Duration::from_millis(drain_timeout_ms.into()));
        drop(ctx);
        if !unsent_out.is_null() {
            // SAFETY: non-NULL and writable (the caller's obligation).
            unsafe { *unsent_out = unsent };
        }
        Ok(())
    })
}

/// The bound port of a server (useful with port 0); a client's configured port; 0 for NULL.
#[no_mangle]
pub extern "C" fn ws_local_port(c: *const ws_context) -> u16 {
    guard_value(0, || {
        engine(c, "ws_local_port").map_or(0, |e| e.local_port())
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
        if ip.is_null() {
            return Err(Error::invalid("ws_peer_address: ip is NULL"));
        }
        let addr = engine(c, "ws_peer_address")?.peer_address(conn)?;
        let text = addr.ip().to_string();
        if text.len() + 1 > ip_len {
            return Err(Error::invalid(format!(
                "ws_peer_address: ip_len {ip_len} is too small for {text}"
            )));
        }
        // SAFETY: `ip` has `ip_len` writable bytes (the caller's obligation), checked to fit.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), ip as *mut u8, text.len());
            *ip.add(text.len()) = 0;
            if !port.is_null() {
                *port = addr.port();
            }
        }
        Ok(())
    })
}

/// Copies the counters into `out`, writing only the fields that fit in `out->struct_size`.
#[no_mangle]
pub extern "C" fn ws_get_stats(c: *const ws_context, out: *mut ws_stats) -> ws_status {
    guard("ws_get_stats", || {
        if out.is_null() {
            return Err(Error::invalid("ws_get_stats: out is NULL"));
        }
        let s = engine(c, "ws_get_stats")?.stats();
        // SAFETY: `out` points to at least `struct_size` writable bytes (the caller's obligation).
        let size = unsafe { (*out).struct_size } as usize;
        if size < std::mem::size_of::<u32>() {
            return Err(Error::invalid(
                "ws_get_stats: struct_size is not set (use sizeof(ws_stats))",
            ));
        }
        let full = ws_stats {
            struct_size: size.min(std::mem::size_of::<ws_stats>()) as u32,
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
        };
        let n = size.min(std::mem::size_of::<ws_stats>());
        // SAFETY: copies `n` bytes, within both `full` and the caller's buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(&full as *const ws_stats as *const u8, out as *mut u8, n)
        };
        Ok(())
    })
}

/// WS_DISPATCH_MANUAL: a file descriptor that is readable while callbacks wait for ws_dispatch;
/// -1 otherwise. Owned by the context: do not close it.
#[no_mangle]
pub extern "C" fn ws_event_fd(c: *const ws_context) -> c_int {
    guard_value(-1, || {
        engine(c, "ws_event_fd")
            .ok()
            .and_then(|e| e.event_fd())
            .unwrap_or(-1)
    })
}

/// WS_DISPATCH_MANUAL: runs up to `max_events` pending callbacks (0 = all) on this thread.
#[no_mangle]
pub extern "C" fn ws_dispatch(c: *mut ws_context, max_events: u32) -> ws_status {
    guard("ws_dispatch", || {
        engine(c, "ws_dispatch")?.dispatch(max_events as usize)
    })
}
