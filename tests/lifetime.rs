//! Context lifetime through the C entry points, on real sockets: calls from other threads racing
//! `ws_context_destroy` complete or answer WS_ERR_CLOSED (never touch freed memory), a destroyed
//! handle answers WS_ERR_INVALID_ARGUMENT for ever even while new contexts reuse its slot, and
//! destroy is refused inside the log handler. Runs under ThreadSanitizer in
//! scripts/check.d/41-race.sh.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws_api::ffi::*;

const WAIT: Duration = Duration::from_secs(20);

/// A context handle that may cross threads (it is a number, not an address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct H(usize);

impl H {
    fn p(self) -> *mut ws_context {
        self.0 as *mut ws_context
    }
}

fn last_error() -> String {
    // SAFETY: ws_last_error answers a NUL-terminated string.
    unsafe { CStr::from_ptr(ws_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn ok(st: ws_status, what: &str) {
    assert_eq!(st, ws_status::WS_OK, "{what}: {}", last_error());
}

/// What on_connect saw: the newest connection id.
#[derive(Default)]
struct Connected {
    conn: AtomicU64,
    count: AtomicUsize,
}

unsafe extern "C" fn on_connect(_c: *mut ws_context, conn: ws_conn_id, user: *mut c_void) {
    // SAFETY: `user` is the test's Arc<Connected>, alive until after the context is destroyed.
    let c = unsafe { &*(user as *const Connected) };
    c.conn.store(conn, Ordering::SeqCst);
    c.count.fetch_add(1, Ordering::SeqCst);
}

fn create(mode: ws_mode, port: u16, seen: Option<&Arc<Connected>>) -> H {
    let o = ws_options_new(mode as i32);
    assert!(!o.is_null());
    ok(ws_options_set_address(o, c"127.0.0.1".as_ptr()), "address");
    ok(ws_options_set_port(o, port.into()), "port");
    if mode == ws_mode::WS_MODE_CLIENT {
        ok(ws_options_set_reconnect_backoff_ms(o, 10, 50), "backoff");
    }
    if let Some(s) = seen {
        let cbs = ws_callbacks {
            on_connect: Some(on_connect),
            on_receive: None,
            on_writable: None,
            on_close: None,
            on_error: None,
        };
        ok(
            ws_options_set_callbacks(o, &cbs, Arc::as_ptr(s) as *mut c_void),
            "callbacks",
        );
    }
    let mut c = ptr::null_mut();
    ok(ws_context_create(o, &mut c), "create");
    ws_options_free(o);
    H(c as usize)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::yield_now();
    }
}

/// How many different calls `call` makes.
const CALLS: usize = 9;

/// One API call on `h`, chosen by `n`, its answer folded into a status (functions answering a
/// value map their "no such context" value to WS_ERR_INVALID_ARGUMENT). None of them answers
/// WS_ERR_INVALID_ARGUMENT on a live context.
fn call(h: H, conn: ws_conn_id, n: usize) -> ws_status {
    let msg = b"racing";
    match n % CALLS {
        0 => ws_send(h.p(), conn, msg.as_ptr().cast(), msg.len(), 1),
        1 => ws_broadcast(h.p(), msg.as_ptr().cast(), msg.len(), 1),
        2 => {
            let mut s = ws_stats {
                struct_size: std::mem::size_of::<ws_stats>() as u32,
                ..Default::default()
            };
            ws_get_stats(h.p(), &mut s)
        }
        3 => ws_request_writable(h.p(), conn),
        4 => ws_rx_flow(h.p(), conn, 1),
        5 => {
            let mut ip = [0 as c_char; 64];
            let mut port = 0u16;
            ws_peer_address(h.p(), conn, ip.as_mut_ptr(), ip.len(), &mut port)
        }
        6 => ws_flush(h.p(), 0),
        // An id that is never open: WS_ERR_NOT_CONNECTED while the context lives.
        7 => ws_close_connection(h.p(), u64::MAX, 1000, ptr::null()),
        _ => match ws_local_port(h.p()) {
            0 => ws_status::WS_ERR_INVALID_ARGUMENT,
            _ => ws_status::WS_OK,
        },
    }
}

/// What a worker saw.
#[derive(Default, Debug)]
struct Seen {
    calls: usize,
    closed: usize,
    /// WS_ERR_INVALID_ARGUMENT before the destroy started (a bug).
    invalid_early: usize,
    /// A call that did not answer WS_ERR_INVALID_ARGUMENT after one did (a dead handle that
    /// came back: a bug).
    revived: Vec<(usize, ws_status)>,
    unexpected: Vec<(usize, ws_status)>,
}

/// Threads call every function on `target` while the main thread destroys it (and a second
/// thread tries to destroy it too) and another thread creates and destroys contexts meanwhile,
/// so that the target's slot is reused under the workers' stale handle.
fn race_destroy(target: H, conn: ws_conn_id) {
    const WORKERS: usize = 3;
    let started = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let churned = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (started, progress, churned, done) = (
            started.clone(),
            progress.clone(),
            churned.clone(),
            done_tx.clone(),
        );
        workers.push(thread::spawn(move || {
            let mut seen = Seen::default();
            let mut dead_calls = 0;
            let mut n = w;
            // Go on after the handle died until the churn thread has reused slots.
            while dead_calls < 50 || churned.load(Ordering::SeqCst) < 3 {
                let st = call(target, conn, n);
                seen.calls += 1;
                if st == ws_status::WS_ERR_INVALID_ARGUMENT {
                    if !started.load(Ordering::SeqCst) {
                        seen.invalid_early += 1;
                    }
                    dead_calls += 1;
                } else if dead_calls > 0 {
                    seen.revived.push((n % CALLS, st));
                } else if st == ws_status::WS_ERR_CLOSED {
                    seen.closed += 1;
                } else if !matches!(
                    st,
                    ws_status::WS_OK
                        | ws_status::WS_ERR_QUEUE_FULL
                        | ws_status::WS_ERR_NOT_CONNECTED
                        | ws_status::WS_ERR_TIMEOUT
                ) {
                    seen.unexpected.push((n % CALLS, st));
                }
                n += 1;
                progress.fetch_add(1, Ordering::SeqCst);
            }
            let _ = done.send(());
            seen
        }));
    }
    let churn = {
        let (started, churned, stop) = (started.clone(), churned.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let c = create(ws_mode::WS_MODE_SERVER, 0, None);
                assert_ne!(c, target, "a new context got the target's handle");
                ok(
                    ws_context_destroy(c.p(), 0, ptr::null_mut()),
                    "churn destroy",
                );
                if started.load(Ordering::SeqCst) {
                    churned.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let second = {
        let started = started.clone();
        thread::spawn(move || {
            while !started.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            ws_context_destroy(target.p(), 0, ptr::null_mut())
        })
    };

    wait_until("the workers to be calling", || {
        progress.load(Ordering::SeqCst) >= WORKERS * 300
    });
    started.store(true, Ordering::SeqCst);
    let mut unsent = u64::MAX;
    let first = ws_context_destroy(target.p(), 100, &mut unsent);
    let second = second.join().unwrap();
    // Exactly one destroy did it; the other was told the context is going or gone.
    let (won, lost) = if first == ws_status::WS_OK {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(
        won,
        ws_status::WS_OK,
        "no destroy succeeded: {first:?} {second:?}"
    );
    assert!(
        matches!(
            lost,
            ws_status::WS_ERR_CLOSED | ws_status::WS_ERR_INVALID_ARGUMENT
        ),
        "the losing destroy answered {lost:?}"
    );
    // From now on the handle is dead, for every function.
    for n in 0..CALLS {
        assert_eq!(
            call(target, conn, n),
            ws_status::WS_ERR_INVALID_ARGUMENT,
            "call {n} on a destroyed handle"
        );
    }
    for _ in 0..WORKERS {
        done_rx
            .recv_timeout(WAIT)
            .expect("a worker never saw the handle die");
    }
    stop.store(true, Ordering::SeqCst);
    churn.join().unwrap();
    let mut total = Seen::default();
    for w in workers {
        let s = w.join().unwrap();
        total.calls += s.calls;
        total.closed += s.closed;
        total.invalid_early += s.invalid_early;
        total.revived.extend(s.revived);
        total.unexpected.extend(s.unexpected);
    }
    assert_eq!(total.invalid_early, 0, "{total:?}");
    assert!(total.revived.is_empty(), "{total:?}");
    assert!(total.unexpected.is_empty(), "{total:?}");
    assert!(total.calls >= WORKERS * 300, "{total:?}");
}

#[test]
fn calls_racing_destroy_of_a_server_complete_or_answer_closed() {
    for _ in 0..3 {
        let seen = Arc::new(Connected::default());
        let server = create(ws_mode::WS_MODE_SERVER, 0, Some(&seen));
        let port = ws_local_port(server.p());
        let client = create(ws_mode::WS_MODE_CLIENT, port, None);
        wait_until("the client to connect", || {
            seen.count.load(Ordering::SeqCst) == 1
        });
        race_destroy(server, seen.conn.load(Ordering::SeqCst));
        ok(ws_context_destroy(client.p(), 0, ptr::null_mut()), "client");
    }
}

#[test]
fn calls_racing_destroy_of_a_client_complete_or_answer_closed() {
    for _ in 0..3 {
        let seen = Arc::new(Connected::default());
        let server = create(ws_mode::WS_MODE_SERVER, 0, Some(&seen));
        let client = create(ws_mode::WS_MODE_CLIENT, ws_local_port(server.p()), None);
        wait_until("the client to connect", || {
            seen.count.load(Ordering::SeqCst) == 1
        });
        race_destroy(client, 0);
        ok(ws_context_destroy(server.p(), 0, ptr::null_mut()), "server");
    }
}

#[test]
fn destroyed_handle_is_refused_everywhere_even_after_new_contexts() {
    let a = create(ws_mode::WS_MODE_SERVER, 0, None);
    ok(ws_context_destroy(a.p(), 0, ptr::null_mut()), "destroy a");
    // New contexts take the freed slot sooner or later; none answers to the old handle.
    let fresh: Vec<H> = (0..4)
        .map(|_| create(ws_mode::WS_MODE_SERVER, 0, None))
        .collect();
    for &b in &fresh {
        assert_ne!(a, b);
    }
    for n in 0..CALLS {
        assert_eq!(
            call(a, 1, n),
            ws_status::WS_ERR_INVALID_ARGUMENT,
            "call {n} on a destroyed handle"
        );
    }
    assert_eq!(ws_event_fd(a.p()), -1);
    assert_eq!(ws_dispatch(a.p(), 0), ws_status::WS_ERR_INVALID_ARGUMENT);
    let mut unsent = 77u64;
    assert_eq!(
        ws_context_destroy(a.p(), 0, &mut unsent),
        ws_status::WS_ERR_INVALID_ARGUMENT
    );
    assert!(
        last_error().contains("not a live context"),
        "{}",
        last_error()
    );
    assert_eq!(unsent, 77, "a refused destroy wrote unsent_out");
    // The new contexts were not harmed by the stale calls.
    for &b in &fresh {
        assert_ne!(ws_local_port(b.p()), 0);
        ok(ws_broadcast(b.p(), b"x".as_ptr().cast(), 1, 1), "broadcast");
        ok(ws_context_destroy(b.p(), 0, ptr::null_mut()), "destroy b");
    }
    // Values that were never handles.
    for v in [1usize, 0xdead_beef, usize::MAX] {
        assert_eq!(
            ws_send(v as *mut ws_context, 0, ptr::null(), 0, 1),
            ws_status::WS_ERR_INVALID_ARGUMENT
        );
    }
}

/// What the log handler saw when it tried to destroy the target context.
#[derive(Default)]
struct LogSeen {
    destroy: Vec<(ws_status, String)>,
    flush_ms: Vec<u128>,
}

static LOG_TARGET: AtomicUsize = AtomicUsize::new(0);
static LOG_SEEN: Mutex<LogSeen> = Mutex::new(LogSeen {
    destroy: Vec::new(),
    flush_ms: Vec::new(),
});
static LOG_CV: Condvar = Condvar::new();

unsafe extern "C" fn log_handler(_l: ws_log_level, msg: *const c_char, _u: *mut c_void) {
    // SAFETY: a NUL-terminated message.
    let msg = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    let target = LOG_TARGET.load(Ordering::SeqCst);
    if target == 0 || !msg.contains(" open") {
        return;
    }
    let t = target as *mut ws_context;
    let st = ws_context_destroy(t, 0, ptr::null_mut());
    let thread = thread::current().name().unwrap_or("").to_string();
    // Something is queued on the target (a client with no server), so a flush that waited
    // would wait the whole 10 s: inside the handler it must answer at once.
    let start = Instant::now();
    let _ = ws_flush(t, 10_000);
    let waited = start.elapsed().as_millis();
    let mut seen = LOG_SEEN.lock().unwrap();
    seen.destroy.push((st, thread));
    seen.flush_ms.push(waited);
    LOG_CV.notify_all();
}

#[test]
fn destroy_inside_the_log_handler_is_refused() {
    // The target: a client with nowhere to connect and a message queued.
    let target = create(ws_mode::WS_MODE_CLIENT, 1, None);
    ok(
        ws_send(target.p(), 0, b"queued".as_ptr().cast(), 6, 1),
        "queue",
    );
    LOG_TARGET.store(target.0, Ordering::SeqCst);
    ws_set_log_handler(
        Some(log_handler),
        ptr::null_mut(),
        ws_log_level::WS_LOG_INFO as i32,
    );
    // A connection opening logs "connection N open" on the server's I/O thread.
    let seen = Arc::new(Connected::default());
    let server = create(ws_mode::WS_MODE_SERVER, 0, Some(&seen));
    let client = create(ws_mode::WS_MODE_CLIENT, ws_local_port(server.p()), None);
    {
        let deadline = Instant::now() + WAIT;
        let mut g = LOG_SEEN.lock().unwrap();
        while !g.destroy.iter().any(|(_, t)| t.starts_with("ws_api-")) {
            let now = Instant::now();
            assert!(now < deadline, "no log message on an I/O thread");
            g = LOG_CV.wait_timeout(g, deadline - now).unwrap().0;
        }
    }
    LOG_TARGET.store(0, Ordering::SeqCst);
    ws_set_log_handler(None, ptr::null_mut(), 0);
    {
        let g = LOG_SEEN.lock().unwrap();
        for (st, thread) in &g.destroy {
            assert_eq!(
                *st,
                ws_status::WS_ERR_INVALID_ARGUMENT,
                "destroy inside the log handler on {thread}"
            );
        }
        for ms in &g.flush_ms {
            assert!(
                *ms < 5_000,
                "ws_flush waited {ms} ms inside the log handler"
            );
        }
    }
    // The target survived and is destroyed normally, its message reported unsent.
    let mut unsent = 0;
    ok(ws_context_destroy(target.p(), 0, &mut unsent), "target");
    assert_eq!(unsent, 1);
    ok(ws_context_destroy(client.p(), 0, ptr::null_mut()), "client");
    ok(ws_context_destroy(server.p(), 0, ptr::null_mut()), "server");
}
