//! The 2016 functions of `ws_api/client.h` and `ws_api/server.h`, implemented over the
//! C API (`docs/contract.md`, section 9 "The 2016 functions").
//!
//! The 2016 wrapper forked a process per endpoint and talked to it through SysV message queues;
//! its `msgqid` and `service_pid` are now one positive handle that names a `ws_context` in a
//! process-wide registry. Handles are never reused, so a stale handle can never reach another
//! endpoint: it is simply unknown.
//!
//! A server's received-messages pipe: `on_receive` (on the I/O thread, which must not block)
//! appends each message plus `"\n"` to an in-memory FIFO, and a writer thread copies the FIFO into
//! the pipe with blocking writes. When the FIFO holds more than [`PIPE_HIGH_WATER`] bytes, the
//! connection that delivered the message is paused (`on_receive` answers non-zero, as
//! `ws_rx_flow(ctx, conn, 0)`); once the writer has brought the FIFO down to
//! [`PIPE_LOW_WATER`], it resumes every paused connection with `ws_rx_flow(ctx, conn, 1)`. So a
//! full pipe turns into TCP backpressure towards the clients and nothing is ever dropped.
//!
//! The functions of this module are not part of `ws_api.h` (each carries `cbindgen:ignore`); they
//! are declared by the hand-written `include/ws_api/{client,server}.h`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::context::{
    ws_broadcast, ws_close_connection, ws_context_create, ws_context_destroy, ws_flush,
    ws_local_port, ws_rx_flow, ws_send,
};
use super::errors::{set_last_error, ws_last_error};
use super::options::{
    ws_options_free, ws_options_new, ws_options_set_address, ws_options_set_allow_self_signed,
    ws_options_set_cacert, ws_options_set_callbacks, ws_options_set_cert, ws_options_set_key,
    ws_options_set_path, ws_options_set_port, ws_options_set_protocol, ws_options_set_tls,
};
use super::ptr::{self, Out};
use super::types::{
    ws_callbacks, ws_conn_id, ws_context, ws_mode, ws_msg_type, ws_options, ws_status, RawMode,
    RawMsgType,
};
use crate::engine::log::{self, Level};
use crate::engine::panics::{panic_text, Scope};

/// How long `websocket_client_disconnect` waits for queued messages to reach the kernel, and
/// `websocket_server_shutdown` for queued broadcasts and for the pipe reader.
pub const LEGACY_DRAIN_MS: u32 = 5000;

/// Bytes waiting for the received-messages pipe above which the connection that delivered a
/// message is paused.
pub const PIPE_HIGH_WATER: usize = 1 << 20;

/// Bytes waiting for the pipe at or below which the paused connections are resumed.
pub const PIPE_LOW_WATER: usize = 256 << 10;

/// The least time given to the closing handshake after the drain, so that a client that used
/// its whole drain time still says goodbye with 1000.
const CLOSE_GRACE_MS: u64 = 250;

/// A `ws_context *` kept as the number it is (a handle, see `handles.rs`), so it may cross
/// threads; the C API functions check it on every call. Every use happens under the owning
/// [`Slot`]'s lock, which shutdown takes before destroying the context.
#[derive(Clone, Copy)]
struct CtxPtr(usize);

impl CtxPtr {
    fn new(c: *mut ws_context) -> CtxPtr {
        CtxPtr(c as usize)
    }

    /// The handle as the C API takes it.
    fn p(self) -> *mut ws_context {
        self.0 as *mut ws_context
    }
}

/// The context of a handle: `None` once shutdown has taken it. Callers hold the read lock for the
/// length of one (non-blocking) API call; shutdown takes the write lock to remove the context,
/// so it is never destroyed while a call uses it.
type Slot = RwLock<Option<CtxPtr>>;

/// Which header a handle belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Client,
    Server,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Server => "server",
        }
    }
}

/// One live endpoint behind a handle.
struct Handle {
    kind: Kind,
    slot: Arc<Slot>,
    /// Server with a received-messages pipe: the FIFO the callback fills.
    pipe: Option<Arc<Pipe>>,
    /// The thread that writes the FIFO into the pipe.
    writer: Mutex<Option<JoinHandle<()>>>,
}

static REGISTRY: Mutex<BTreeMap<c_int, Arc<Handle>>> = Mutex::new(BTreeMap::new());
static NEXT_HANDLE: AtomicI32 = AtomicI32::new(1);

fn registry() -> MutexGuard<'static, BTreeMap<c_int, Arc<Handle>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn read_slot(slot: &Slot) -> std::sync::RwLockReadGuard<'_, Option<CtxPtr>> {
    slot.read().unwrap_or_else(|e| e.into_inner())
}

/// A fresh handle number: positive, never handed out before in this process.
fn new_handle_number() -> Result<c_int, String> {
    NEXT_HANDLE
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < c_int::MAX).then_some(n + 1)
        })
        .map_err(|_| "no handle numbers left in this process".to_string())
}

/// The live handle `h` if it is of `kind`; the error names what is wrong with it.
fn lookup(h: c_int, kind: Kind) -> Result<Arc<Handle>, String> {
    match registry().get(&h) {
        Some(e) if e.kind == kind => Ok(e.clone()),
        Some(e) => Err(format!(
            "handle {h} is a {} handle, not a {} one",
            e.kind.name(),
            kind.name()
        )),
        None => Err(format!(
            "handle {h} is unknown (never created or already closed)"
        )),
    }
}

/// Removes and answers the live handle `h` if it is of `kind`.
fn take_handle(h: c_int, kind: Kind) -> Option<Arc<Handle>> {
    let mut reg = registry();
    if reg.get(&h).is_some_and(|e| e.kind == kind) {
        reg.remove(&h)
    } else {
        None
    }
}

/// The message of the C call that just failed on this thread.
fn last_error() -> String {
    // ws_last_error answers a NUL-terminated string valid until the next failing call.
    ptr::try_c_bytes(ws_last_error(), "ws_last_error")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// Turns a C API status into a result carrying its `ws_last_error` message.
fn check(st: ws_status, what: &str) -> Result<(), String> {
    if st == ws_status::WS_OK {
        Ok(())
    } else {
        Err(format!("{what}: {}", last_error()))
    }
}

/// Runs an entry point's body: an error or a panic sets `ws_last_error` and answers -1.
fn entry(name: &str, body: impl FnOnce() -> Result<c_int, String>) -> c_int {
    let _ours = Scope::enter();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => {
            set_last_error(&format!("{name}: {msg}"));
            -1
        }
        Err(p) => {
            set_last_error(&format!("{name}: internal error: {}", panic_text(&p)));
            -1
        }
    }
}

/// Runs a `void` entry point's body under `catch_unwind`; a panic is logged.
fn entry_void(name: &str, body: impl FnOnce()) {
    let _ours = Scope::enter();
    if let Err(p) = catch_unwind(AssertUnwindSafe(body)) {
        let msg = format!("{name}: internal error: {}", panic_text(&p));
        set_last_error(&msg);
        log::emit(Level::Error, &msg);
    }
}

/// An optional C string (NULL or NUL-terminated): NULL and "" are both "not given".
fn opt_arg(p: *const c_char) -> Option<*const c_char> {
    ptr::try_c_bytes(p, "string")
        .is_ok_and(|b| !b.is_empty())
        .then_some(p)
}

/// A `ws_options` that is freed when dropped.
struct Opts(*mut ws_options);

impl Opts {
    fn new(mode: ws_mode) -> Result<Opts, String> {
        let o = ws_options_new(mode as RawMode);
        if o.is_null() {
            Err(format!("ws_options_new: {}", last_error()))
        } else {
            Ok(Opts(o))
        }
    }

    /// Applies the TLS file options that were given.
    fn tls_files(
        &self,
        cert: *const c_char,
        key: *const c_char,
        cacert: *const c_char,
    ) -> Result<(), String> {
        if let Some(p) = opt_arg(cert) {
            check(ws_options_set_cert(self.0, p), "cert")?;
        }
        if let Some(p) = opt_arg(key) {
            check(ws_options_set_key(self.0, p), "key")?;
        }
        if let Some(p) = opt_arg(cacert) {
            check(ws_options_set_cacert(self.0, p), "cacert")?;
        }
        Ok(())
    }

    fn create(&self) -> Result<CtxPtr, String> {
        let mut ctx: *mut ws_context = std::ptr::null_mut();
        check(
            ws_context_create(self.0, &mut ctx),
            "cannot create the context",
        )?;
        Ok(CtxPtr::new(ctx))
    }
}

impl Drop for Opts {
    fn drop(&mut self) {
        ws_options_free(self.0);
    }
}

/// Publishes a new handle for `handle`, writing its number to both out-parameters.
fn publish(handle: Handle, number: c_int, (msgqid, service_pid): (Out<c_int>, Out<c_int>)) {
    registry().insert(number, Arc::new(handle));
    msgqid.write(number);
    service_pid.write(number);
}

/// The two out-parameters every create function writes its handle to.
fn handle_outs(
    msgqid: *mut c_int,
    service_pid: *mut c_int,
) -> Result<(Out<c_int>, Out<c_int>), String> {
    match (
        ptr::try_out(msgqid, "msgqid"),
        ptr::try_out(service_pid, "service_pid"),
    ) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => Err("msgqid or service_pid is NULL".into()),
    }
}

/// The frame type for a C string: text when it is UTF-8 (the 2016 wrapper always sent text),
/// binary otherwise, so that no byte string is refused or altered.
fn msg_type_of(bytes: &[u8]) -> RawMsgType {
    if std::str::from_utf8(bytes).is_ok() {
        ws_msg_type::WS_MSG_TEXT as RawMsgType
    } else {
        ws_msg_type::WS_MSG_BINARY as RawMsgType
    }
}

/// The bytes of a non-NULL message argument (a NUL-terminated string).
fn msg_arg<'a>(msg: *const c_char) -> Result<&'a [u8], String> {
    ptr::try_c_bytes(msg, "msg").map_err(|e| e.message)
}

// ------------------------------------------------------------------------------------------
// The received-messages pipe.

/// What the callback and the writer thread share, under [`Pipe::state`].
#[derive(Default)]
struct PipeState {
    /// Lines (message + "\n") not yet handed to the writer.
    queue: VecDeque<Vec<u8>>,
    /// Bytes in `queue` plus those the writer holds and has not written yet.
    bytes: usize,
    /// Connections paused because `bytes` went above the high-water mark.
    paused: BTreeSet<ws_conn_id>,
    /// Shutdown started: no connection is paused any more (their closing handshakes must be
    /// read), what still arrives is queued anyway.
    draining: bool,
    /// No more input will come: the writer finishes the queue, closes the pipe and stops.
    closed: bool,
    /// The reader closed its end: lines are discarded from now on.
    broken: bool,
    /// The writer closed the pipe and is about to return.
    done: bool,
}

/// The FIFO between `on_receive` and the writer thread.
#[derive(Default)]
struct Pipe {
    state: Mutex<PipeState>,
    /// Signalled when a line is queued or `closed` is set (the writer waits on it).
    input: Condvar,
    /// Signalled when `done` is set (shutdown waits on it).
    finished: Condvar,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one received message; answers whether `conn` must pause reading.
    fn push(&self, conn: ws_conn_id, data: &[u8]) -> bool {
        let mut line = Vec::with_capacity(data.len() + 1);
        line.extend_from_slice(data);
        line.push(b'\n');
        let mut st = self.lock();
        if st.broken {
            return false;
        }
        st.bytes += line.len();
        st.queue.push_back(line);
        self.input.notify_one();
        if st.bytes > PIPE_HIGH_WATER && !st.draining {
            let first = st.paused.is_empty();
            st.paused.insert(conn);
            drop(st);
            if first {
                // Logged outside the lock; once per stall (until the writer resumes everyone).
                log::emit(
                    Level::Info,
                    "ws_api legacy server: the received-messages pipe is full (not read fast \
                     enough): reading from clients is paused until it drains",
                );
            }
            true
        } else {
            false
        }
    }

    /// Marks the end of input; the writer drains what is left and closes the pipe.
    fn close_input(&self) {
        self.lock().closed = true;
        self.input.notify_all();
    }

    /// Waits until the writer closed the pipe, up to `timeout`; answers whether it did.
    fn wait_done(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while !st.done {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .finished
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// Resumes reading from `conns` (those paused for a full pipe), if the context still exists.
fn resume(slot: &Slot, conns: BTreeSet<ws_conn_id>) {
    if conns.is_empty() {
        return;
    }
    if let Some(c) = *read_slot(slot) {
        for conn in conns {
            // A connection that closed meanwhile answers WS_ERR_NOT_CONNECTED: nothing to do.
            let _ = ws_rx_flow(c.p(), conn, 1);
        }
    }
}

/// Blocks SIGPIPE in the calling thread, so that writing to a pipe whose reader is gone fails
/// with EPIPE instead of killing the application (a C program does not ignore SIGPIPE the way
/// Rust programs do).
fn block_sigpipe() {
    // SAFETY: plain libc calls on a local, initialised signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Consumes a SIGPIPE left pending (blocked) in this thread by a failed write, so it can never
/// be delivered later.
fn discard_pending_sigpipe() {
    // SAFETY: plain libc calls; a zero timeout makes sigtimedwait return at once.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
    }
}

/// The writer thread: copies queued lines into the pipe in order, resumes paused connections as
/// the FIFO drains, and closes the pipe (the reader sees end of file) after the last line once
/// input is closed.
fn writer_loop(pipe: Arc<Pipe>, slot: Arc<Slot>, out: File) {
    let _ours = Scope::enter();
    block_sigpipe();
    let mut out = BufWriter::with_capacity(64 << 10, out);
    loop {
        let batch = {
            let mut st = pipe.lock();
            while st.queue.is_empty() && !st.closed {
                st = pipe.input.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.queue.is_empty() {
                break;
            }
            std::mem::take(&mut st.queue)
        };
        let mut failure = None;
        for line in &batch {
            if let Err(e) = out.write_all(line) {
                failure = Some(e);
                break;
            }
        }
        if failure.is_none() {
            if let Err(e) = out.flush() {
                failure = Some(e);
            }
        }
        let total: usize = batch.iter().map(Vec::len).sum();
        drop(batch);
        let paused = {
            let mut st = pipe.lock();
            st.bytes -= total;
            if failure.is_some() {
                // The reader closed its end (EPIPE) or the pipe failed: nobody can get the
                // lines any more. Discard them from now on and let the clients go on.
                st.broken = true;
                st.bytes -= st.queue.iter().map(Vec::len).sum::<usize>();
                st.queue.clear();
            }
            if st.broken || st.bytes <= PIPE_LOW_WATER {
                std::mem::take(&mut st.paused)
            } else {
                BTreeSet::new()
            }
        };
        if let Some(e) = failure {
            discard_pending_sigpipe();
            // Logged outside the lock: the application's log handler may take its time.
            log::emit(
                Level::Warn,
                &format!(
                    "ws_api legacy server: the received-messages pipe failed ({e}); received \
                     messages are discarded from now on"
                ),
            );
            // Nothing more can be written: drop the buffered remainder with the file.
            let _ = out.into_parts();
            resume(&slot, paused);
            let mut st = pipe.lock();
            st.done = true;
            pipe.finished.notify_all();
            drop(st);
            drain_after_failure(&pipe);
            return;
        }
        resume(&slot, paused);
    }
    // Closes the write end: the reader sees end of file after the last line.
    drop(out);
    pipe.lock().done = true;
    pipe.finished.notify_all();
}

/// After the pipe failed: waits for the end of input so that lines pushed meanwhile are freed.
fn drain_after_failure(pipe: &Pipe) {
    let mut st = pipe.lock();
    while !st.closed {
        st.queue.clear();
        st.bytes = 0;
        st = pipe.input.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    st.queue.clear();
    st.bytes = 0;
}

/// `on_receive` of a server with a pipe: queues the message, pausing the connection when the
/// FIFO is above the high-water mark. `user` is the handle's [`Pipe`].
unsafe extern "C" fn pipe_on_receive(
    _ctx: *mut ws_context,
    conn: ws_conn_id,
    data: *const u8,
    len: usize,
    _type: ws_msg_type,
    user: *mut c_void,
) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user` is Arc::as_ptr of the handle's Arc<Pipe>, which outlives the context.
        let pipe = unsafe { ptr::arc_user::<Pipe>(user) };
        let bytes = ptr::try_bytes(data.cast(), len, "data").unwrap_or(&[]);
        c_int::from(pipe.push(conn, bytes))
    }))
    .unwrap_or(0)
}

/// A pipe whose both ends close on exec (the application's children must not keep the write
/// end open, or its reader would never see end of file).
fn make_pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!(
            "cannot create the received-messages pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

// ------------------------------------------------------------------------------------------
// Client

/// 2016 `websocket_client_create`: starts a client of `ws[s]://address:port/path` that connects
/// in the background and reconnects with backoff. `use_ssl`: 0 plain, 1 TLS verified, 2 TLS
/// accepting a self-signed certificate. Writes the same new positive handle to `*msgqid` and
/// `*service_pid`. Answers 0, or -1 with `ws_last_error` set.
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn websocket_client_create(
    protocol: *mut c_char,
    address: *mut c_char,
    port: c_int,
    path: *mut c_char,
    use_ssl: c_int,
    cert: *mut c_char,
    key: *mut c_char,
    cacert: *mut c_char,
    msgqid: *mut c_int,
    service_pid: *mut c_int,
) -> c_int {
    entry("websocket_client_create", || {
        let outs = handle_outs(msgqid, service_pid)?;
        if address.is_null() {
            return Err("address is NULL".into());
        }
        if !(1..=65535).contains(&port) {
            return Err(format!("port {port} is outside 1..65535"));
        }
        if !(0..=2).contains(&use_ssl) {
            return Err(format!(
                "use_ssl {use_ssl} is not 0 (plain), 1 (TLS) or 2 (TLS, self-signed allowed)"
            ));
        }
        let o = Opts::new(ws_mode::WS_MODE_CLIENT)?;
        check(ws_options_set_address(o.0, address), "address")?;
        check(ws_options_set_port(o.0, port), "port")?;
        if let Some(p) = opt_arg(path) {
            check(ws_options_set_path(o.0, p), "path")?;
        }
        if let Some(p) = opt_arg(protocol) {
            check(ws_options_set_protocol(o.0, p), "protocol")?;
        }
        if use_ssl != 0 {
            check(ws_options_set_tls(o.0, 1), "use_ssl")?;
            check(
                ws_options_set_allow_self_signed(o.0, c_int::from(use_ssl == 2)),
                "use_ssl",
            )?;
            o.tls_files(cert, key, cacert)?;
        }
        let number = new_handle_number()?;
        let ctx = o.create()?;
        publish(
            Handle {
                kind: Kind::Client,
                slot: Arc::new(RwLock::new(Some(ctx))),
                pipe: None,
                writer: Mutex::new(None),
            },
            number,
            outs,
        );
        Ok(0)
    })
}

/// 2016 `websocket_client_send_msg`: queues the NUL-terminated `msg` (a text frame, or binary
/// when it is not UTF-8) on the client `msgqid`; never blocks. `port` is ignored. Answers 0, or
/// -1 with `ws_last_error` set (full queue, too large, NULL, unknown handle).
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn websocket_client_send_msg(
    msg: *mut c_char,
    msgqid: c_int,
    _port: c_int,
) -> c_int {
    entry("websocket_client_send_msg", || {
        let bytes = msg_arg(msg)?;
        let h = lookup(msgqid, Kind::Client)?;
        let slot = read_slot(&h.slot);
        let c = slot.ok_or_else(|| format!("handle {msgqid} is being disconnected"))?;
        check(
            ws_send(
                c.p(),
                0,
                bytes.as_ptr().cast(),
                bytes.len(),
                msg_type_of(bytes),
            ),
            "cannot queue the message",
        )?;
        Ok(0)
    })
}

/// 2016 `websocket_client_disconnect`: waits up to 5 s for the queued messages to reach the
/// kernel (the rest is dropped), closes with 1000 and frees the handle. An unknown or already
/// disconnected handle does nothing.
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn websocket_client_disconnect(service_pid: c_int) {
    entry_void("websocket_client_disconnect", || {
        let Some(h) = take_handle(service_pid, Kind::Client) else {
            return;
        };
        let taken = h.slot.write().unwrap_or_else(|e| e.into_inner()).take();
        let Some(c) = taken else {
            return;
        };
        let deadline = Instant::now() + Duration::from_millis(LEGACY_DRAIN_MS.into());
        // A timeout leaves the rest to the destroy below, which counts it as dropped.
        let _ = ws_flush(c.p(), LEGACY_DRAIN_MS);
        // WS_ERR_NOT_CONNECTED when there is no open connection: nothing to close, and nothing
        // to wait for (a connection attempt in progress is simply abandoned).
        let closing = ws_close_connection(c.p(), 0, 1000, std::ptr::null()) == ws_status::WS_OK;
        let drain = if closing {
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(CLOSE_GRACE_MS))
        } else {
            Duration::ZERO
        };
        let mut unsent = 0u64;
        let _ = ws_context_destroy(
            c.p(),
            u32::try_from(drain.as_millis()).unwrap_or(LEGACY_DRAIN_MS),
            &mut unsent,
        );
        if unsent > 0 {
            log::emit(
                Level::Warn,
                &format!(
                    "websocket_client_disconnect: {unsent} queued messages were not delivered \
                     within {LEGACY_DRAIN_MS} ms and were dropped"
                ),
            );
        }
    })
}

// ------------------------------------------------------------------------------------------
// Server

/// Whether an IPv6 wildcard socket also accepts IPv4 here (Linux: `net.ipv6.bindv6only` is 0,
/// the default; std does not set IPV6_V6ONLY).
fn dual_stack_default() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "0")
}

/// Creates a server context listening on all interfaces: on `::` (IPv6 and IPv4) where that is
/// dual stack, else, or when IPv6 cannot be bound at all, on `0.0.0.0` (IPv4).
fn create_listening(o: &Opts) -> Result<CtxPtr, String> {
    if dual_stack_default() {
        check(ws_options_set_address(o.0, c"::".as_ptr()), "address")?;
        let mut ctx: *mut ws_context = std::ptr::null_mut();
        match ws_context_create(o.0, &mut ctx) {
            ws_status::WS_OK => return Ok(CtxPtr::new(ctx)),
            // A port in use is in use on IPv4 too; anything else (no IPv6 here) may not be.
            // The IPv4 attempt below reports the failure if it fails too.
            ws_status::WS_ERR_IO => {}
            _ => return Err(format!("cannot create the context: {}", last_error())),
        }
    }
    check(ws_options_set_address(o.0, c"0.0.0.0".as_ptr()), "address")?;
    o.create()
}

/// 2016 `websocket_server_create`: binds `port` (0: any free port, see `ws_legacy_local_port`)
/// on all interfaces before returning. With `fd` non-NULL, `*fd` is the read end of a pipe that
/// gets every received message followed by "\n", in order, never dropped. Writes the same new
/// positive handle to `*msgqid` and `*service_pid`. Answers 0, or -1 with `ws_last_error` set
/// (bad argument, port in use, TLS files unreadable).
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn websocket_server_create(
    protocol: *mut c_char,
    port: c_int,
    use_ssl: c_int,
    cert: *mut c_char,
    key: *mut c_char,
    cacert: *mut c_char,
    fd: *mut c_int,
    msgqid: *mut c_int,
    service_pid: *mut c_int,
) -> c_int {
    entry("websocket_server_create", || {
        let outs = handle_outs(msgqid, service_pid)?;
        if !(0..=65535).contains(&port) {
            return Err(format!("port {port} is outside 0..65535"));
        }
        let o = Opts::new(ws_mode::WS_MODE_SERVER)?;
        check(ws_options_set_port(o.0, port), "port")?;
        if let Some(p) = opt_arg(protocol) {
            check(ws_options_set_protocol(o.0, p), "protocol")?;
        }
        if use_ssl != 0 {
            check(ws_options_set_tls(o.0, 1), "use_ssl")?;
            o.tls_files(cert, key, cacert)?;
        }
        let fd = ptr::opt_out(fd);
        let pipe_ends = if fd.is_none() {
            None
        } else {
            Some(make_pipe()?)
        };
        let pipe = pipe_ends.as_ref().map(|_| Arc::new(Pipe::default()));
        if let Some(p) = &pipe {
            let cbs = ws_callbacks {
                on_connect: None,
                on_receive: Some(pipe_on_receive),
                on_writable: None,
                on_close: None,
                on_error: None,
            };
            // The handle keeps the Arc (and so this pointer) alive until after the context is
            // destroyed.
            check(
                ws_options_set_callbacks(o.0, &cbs, Arc::as_ptr(p) as *mut c_void),
                "callbacks",
            )?;
        }
        let number = new_handle_number()?;
        let ctx = create_listening(&o)?;
        let slot = Arc::new(RwLock::new(Some(ctx)));
        let mut writer = None;
        let mut read_end = None;
        if let (Some(p), Some((r, w))) = (&pipe, pipe_ends) {
            let (p2, s2, out) = (p.clone(), slot.clone(), File::from(w));
            match std::thread::Builder::new()
                .name("ws_api-legacy-pipe".into())
                .spawn(move || writer_loop(p2, s2, out))
            {
                Ok(t) => writer = Some(t),
                Err(e) => {
                    // Nothing else knows the context yet.
                    let _ = ws_context_destroy(ctx.p(), 0, std::ptr::null_mut());
                    return Err(format!("cannot start the pipe writer thread: {e}"));
                }
            }
            read_end = Some(r);
        }
        if let Some(r) = read_end {
            if let Some(fd) = &fd {
                fd.write(r.into_raw_fd());
            }
        }
        publish(
            Handle {
                kind: Kind::Server,
                slot,
                pipe,
                writer: Mutex::new(writer),
            },
            number,
            outs,
        );
        Ok(0)
    })
}

/// 2016 `websocket_server_broadcast_msg`: queues the NUL-terminated `msg` (a text frame, or
/// binary when it is not UTF-8) for every connected client of server `msgqid`; never blocks.
/// `port` is ignored. Answers 0 (also with no client connected), or -1 with `ws_last_error` set.
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn websocket_server_broadcast_msg(
    msg: *mut c_char,
    msgqid: c_int,
    _port: c_int,
) -> c_int {
    entry("websocket_server_broadcast_msg", || {
        let bytes = msg_arg(msg)?;
        let h = lookup(msgqid, Kind::Server)?;
        let slot = read_slot(&h.slot);
        let c = slot.ok_or_else(|| format!("handle {msgqid} is shutting down"))?;
        check(
            ws_broadcast(
                c.p(),
                bytes.as_ptr().cast(),
                bytes.len(),
                msg_type_of(bytes),
            ),
            "cannot queue the message",
        )?;
        Ok(0)
    })
}

/// 2016 `websocket_server_shutdown`: writes what is queued to the clients (up to 5 s), closes
/// every client with 1001, then closes the received-messages pipe after its last line (waiting
/// up to 5 s for the reader; after that the rest is written in the background) and frees the
/// handle. A second call, or an unknown handle, does nothing.
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn websocket_server_shutdown(service_pid: c_int) {
    entry_void("websocket_server_shutdown", || {
        let Some(h) = take_handle(service_pid, Kind::Server) else {
            return;
        };
        if let Some(p) = &h.pipe {
            // Paused connections could not read their clients' close frames: resume them, and
            // pause no more while the context drains.
            let paused = {
                let mut st = p.lock();
                st.draining = true;
                std::mem::take(&mut st.paused)
            };
            resume(&h.slot, paused);
        }
        let taken = h.slot.write().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(c) = taken {
            let _ = ws_context_destroy(c.p(), LEGACY_DRAIN_MS, std::ptr::null_mut());
        }
        // The I/O thread is gone: no more input for the pipe.
        if let Some(p) = &h.pipe {
            p.close_input();
            let writer = h.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
            if p.wait_done(Duration::from_millis(LEGACY_DRAIN_MS.into())) {
                if let Some(t) = writer {
                    let _ = t.join();
                }
            } else {
                // The reader does not read: let the writer finish in the background (it
                // closes the pipe after the last line) rather than block the caller for ever.
                log::emit(
                    Level::Warn,
                    "websocket_server_shutdown: the received-messages pipe is full and not \
                     read; the remaining lines are written in the background",
                );
            }
        }
    })
}

/// Extension (not in the 2016 API): the port server `service_pid` listens on, useful after
/// `websocket_server_create` with port 0. Answers -1 with `ws_last_error` set for a handle that
/// is not a running server.
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn ws_legacy_local_port(service_pid: c_int) -> c_int {
    entry("ws_legacy_local_port", || {
        let h = lookup(service_pid, Kind::Server)?;
        let slot = read_slot(&h.slot);
        let c = slot.ok_or_else(|| format!("handle {service_pid} is shutting down"))?;
        Ok(c_int::from(ws_local_port(c.p())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn handles_are_positive_and_never_reused() {
        let a = new_handle_number().unwrap();
        let b = new_handle_number().unwrap();
        assert!(a > 0 && b > a);
    }

    #[test]
    fn pipe_pauses_above_high_water_and_writer_resumes_and_ends() {
        let pipe = Arc::new(Pipe::default());
        let slot: Arc<Slot> = Arc::new(RwLock::new(None));
        let line = vec![b'x'; 1000];
        let mut n = 0;
        // Below the high-water mark nothing pauses; the first push above it pauses its sender.
        while !pipe.push(7, &line) {
            n += 1;
            assert!(n * 1001 <= PIPE_HIGH_WATER, "never paused");
        }
        assert_eq!(n, PIPE_HIGH_WATER / 1001);
        assert!(pipe.lock().paused.contains(&7));

        let (r, w) = make_pipe().unwrap();
        let writer = {
            let (p, s) = (pipe.clone(), slot.clone());
            std::thread::spawn(move || writer_loop(p, s, File::from(w)))
        };
        pipe.close_input();
        let mut got = Vec::new();
        File::from(r).read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        // Every line, in order, then end of file; the paused connection was released.
        assert_eq!(got.len(), (n + 1) * 1001);
        assert!(got
            .chunks(1001)
            .all(|c| c[..1000] == line[..] && c[1000] == b'\n'));
        let st = pipe.lock();
        assert!(st.done && st.paused.is_empty() && st.bytes == 0);
    }

    #[test]
    fn pipe_with_reader_gone_discards_without_sigpipe() {
        let pipe = Arc::new(Pipe::default());
        let slot: Arc<Slot> = Arc::new(RwLock::new(None));
        let (r, w) = make_pipe().unwrap();
        drop(r);
        let writer = {
            let (p, s) = (pipe.clone(), slot.clone());
            std::thread::spawn(move || writer_loop(p, s, File::from(w)))
        };
        assert!(!pipe.push(1, b"lost"));
        assert!(pipe.wait_done(Duration::from_secs(10)));
        // Input after the failure is discarded, never paused.
        assert!(!pipe.push(1, &vec![b'y'; PIPE_HIGH_WATER + 1]));
        pipe.close_input();
        writer.join().unwrap();
        let st = pipe.lock();
        assert!(st.broken && st.queue.is_empty() && st.bytes == 0);
    }
}
