//! The C API under random sequences of calls with random arguments, from several threads at once,
//! on a real server and client connected over loopback.
//!
//! The input is a small program: a header picks options (dispatch mode, queue capacity, slow
//! policy, sizes), then every 8-byte record is one call, run by thread `record % 3`. Callbacks call
//! back into the API (echo, close, a forbidden destroy that must be refused). Pointers are only
//! ever NULL or valid: the C caller's obligations are kept, everything else is fair game.
//!
//! Checked: no crash; every failed call leaves a message in `ws_last_error` and has a known
//! `ws_strerror` text; where the arguments alone decide the answer (NULL context or data, a
//! message type or enum value outside the contract, a close code below 1000, a port out of range,
//! a stats `struct_size` below 4) that answer is the one `docs/contract.md` gives; `ws_get_stats`
//! writes exactly `struct_size` bytes; `ws_peer_address` answers a loopback address and a port;
//! destroy from a callback answers WS_ERR_INVALID_ARGUMENT, destroy itself answers WS_OK and
//! reports its unsent count; no callback reports WS_ERR_INTERNAL (a caught panic).

#![no_main]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use ws_api::ffi::*;

/// Checks what holds for every answer: a known description, and a message for every failure.
fn check(s: ws_status) -> ws_status {
    // SAFETY: ws_strerror returns a static string for any value.
    let text = unsafe { CStr::from_ptr(ws_strerror(s as c_int)) };
    assert!(
        !text.to_bytes().is_empty() && text.to_bytes() != b"unknown status",
        "{s:?} has no description"
    );
    if s != ws_status::WS_OK {
        // SAFETY: ws_last_error returns a valid thread-local string.
        let msg = unsafe { CStr::from_ptr(ws_last_error()) };
        assert!(!msg.to_bytes().is_empty(), "{s:?} without ws_last_error");
    }
    s
}

/// Checks an answer that the arguments alone decide.
fn expect(s: ws_status, want: ws_status, what: &str) {
    assert_eq!(check(s), want, "{what}");
}

struct Shared {
    accepted: AtomicU64,
}

unsafe extern "C" fn on_connect(ctx: *mut ws_context, conn: ws_conn_id, _u: *mut c_void) {
    check(ws_send(ctx, conn, b"hi".as_ptr().cast(), 2, 1));
    // Destroy from a callback is refused, never performed.
    assert!(matches!(
        ws_context_destroy(ctx, 0, ptr::null_mut()),
        ws_status::WS_ERR_INVALID_ARGUMENT
    ));
}

unsafe extern "C" fn on_receive(
    ctx: *mut ws_context,
    conn: ws_conn_id,
    data: *const u8,
    len: usize,
    type_: ws_msg_type,
    _u: *mut c_void,
) -> c_int {
    if len > 0 && *data == b'!' {
        check(ws_close_connection(ctx, conn, 4000, c"bye".as_ptr()));
        return 0;
    }
    if len < 64 {
        check(ws_send(ctx, conn, data.cast(), len, type_ as c_int));
    }
    c_int::from(len % 7 == 3)
}

unsafe extern "C" fn on_writable(ctx: *mut ws_context, conn: ws_conn_id, _u: *mut c_void) {
    check(ws_rx_flow(ctx, conn, 1));
}

unsafe extern "C" fn on_close(
    _ctx: *mut ws_context,
    _conn: ws_conn_id,
    _code: u16,
    reason: *const c_char,
    _u: *mut c_void,
) {
    assert!(!reason.is_null());
}

unsafe extern "C" fn on_error(
    _ctx: *mut ws_context,
    _conn: ws_conn_id,
    status: ws_status,
    message: *const c_char,
    _u: *mut c_void,
) {
    assert!(!message.is_null());
    assert!(
        !matches!(status, ws_status::WS_ERR_INTERNAL),
        "internal error: {:?}",
        CStr::from_ptr(message)
    );
}

struct Ctx(*mut ws_context);
// SAFETY: every ws_* function may be called from any thread (docs/contract.md, "Threads").
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

/// A NUL-terminated string made of fuzzer bytes (NUL bytes replaced), or None.
fn cstring(b: &[u8]) -> std::ffi::CString {
    std::ffi::CString::new(
        b.iter()
            .map(|&x| if x == 0 { b'x' } else { x })
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

fn run_call(rec: &[u8], ctxs: &[Ctx; 2], sh: &Shared, scratch: &[u8]) {
    let c = ctxs[(rec[0] as usize >> 4) & 1].0;
    let conn = u64::from(rec[1] % 6);
    let len = usize::from(u16::from_le_bytes([rec[2], rec[3]])) % scratch.len();
    let ty = c_int::from(rec[4] % 4);
    let data = &scratch[usize::from(rec[5])..][..len.min(scratch.len() - usize::from(rec[5]))];
    match rec[0] & 0x0f {
        0 | 1 => {
            let st = check(ws_send(c, conn, data.as_ptr().cast(), data.len(), ty));
            if !(1..=2).contains(&ty) {
                expect(st, ws_status::WS_ERR_INVALID_ARGUMENT, "ws_send of type {ty}");
            }
            if st == ws_status::WS_OK {
                sh.accepted.fetch_add(1, Ordering::Relaxed);
            }
        }
        2 => {
            let st = check(ws_broadcast(c, data.as_ptr().cast(), data.len(), ty));
            if !(1..=2).contains(&ty) {
                expect(st, ws_status::WS_ERR_INVALID_ARGUMENT, "ws_broadcast of a bad type");
            }
        }
        3 => {
            check(ws_request_writable(c, conn));
        }
        4 => {
            check(ws_rx_flow(c, conn, c_int::from(rec[6] & 1)));
        }
        5 => {
            let code = u16::from_le_bytes([rec[6], rec[7]]);
            let reason = cstring(&data[..data.len().min(200)]);
            let r = if rec[4] & 1 == 0 {
                reason.as_ptr()
            } else {
                ptr::null()
            };
            let st = check(ws_close_connection(c, conn, code, r));
            if code < 1000 {
                expect(st, ws_status::WS_ERR_INVALID_ARGUMENT, "close code below 1000");
            }
        }
        6 => {
            check(ws_flush(c, u32::from(rec[6] % 20)));
        }
        7 => {
            // Bytes beyond struct_size are never written: fill them with a mark first.
            let size = u32::from(rec[6]) % (std::mem::size_of::<ws_stats>() as u32 + 1);
            let mut st = std::mem::MaybeUninit::<ws_stats>::uninit();
            let bytes = st.as_mut_ptr().cast::<u8>();
            // SAFETY: fills the whole (plain-data) struct, then sets its first field.
            let st = unsafe {
                ptr::write_bytes(bytes, 0xa5, std::mem::size_of::<ws_stats>());
                (*st.as_mut_ptr()).struct_size = size;
                st.assume_init_mut()
            };
            let r = check(ws_get_stats(c, st));
            if size < 4 {
                expect(r, ws_status::WS_ERR_INVALID_ARGUMENT, "struct_size below 4");
            } else {
                expect(r, ws_status::WS_OK, "ws_get_stats of a live context");
                assert_eq!(st.struct_size, size);
            }
            // SAFETY: reads the struct's own bytes.
            let after = unsafe {
                std::slice::from_raw_parts(
                    (st as *const ws_stats).cast::<u8>(),
                    std::mem::size_of::<ws_stats>(),
                )
            };
            let untouched = if size < 4 { 4 } else { size as usize };
            assert!(
                after[untouched..].iter().all(|&b| b == 0xa5),
                "ws_get_stats wrote beyond struct_size {size}"
            );
            expect(
                ws_get_stats(c, ptr::null_mut()),
                ws_status::WS_ERR_INVALID_ARGUMENT,
                "ws_get_stats(NULL)",
            );
        }
        8 => {
            check(ws_dispatch(c, u32::from(rec[6] % 4)));
        }
        9 => {
            let _ = ws_local_port(c);
            let _ = ws_event_fd(c);
            let mut ip = [0 as c_char; 64];
            let mut port = 0u16;
            let st = check(ws_peer_address(
                c,
                conn,
                ip.as_mut_ptr(),
                usize::from(rec[6] % 65),
                &mut port,
            ));
            if st == ws_status::WS_OK {
                // SAFETY: on success `ip` holds a NUL-terminated string.
                let text = unsafe { CStr::from_ptr(ip.as_ptr()) }.to_str().unwrap();
                let addr: std::net::IpAddr = text.parse().expect("a numeric address");
                assert!(addr.is_loopback(), "peer {addr} is not loopback");
                assert_ne!(port, 0);
            }
        }
        10 => {
            // NULL contexts and arguments everywhere: answered, never dereferenced.
            let invalid = ws_status::WS_ERR_INVALID_ARGUMENT;
            expect(
                ws_send(ptr::null_mut(), conn, data.as_ptr().cast(), data.len(), ty),
                invalid,
                "ws_send(NULL context)",
            );
            let st = check(ws_send(c, conn, ptr::null(), usize::from(rec[6]), ty));
            if rec[6] > 0 {
                expect(st, invalid, "ws_send(NULL data, len > 0)");
            }
            expect(
                ws_broadcast(ptr::null_mut(), ptr::null(), 0, ty),
                invalid,
                "ws_broadcast(NULL context)",
            );
            expect(ws_flush(ptr::null_mut(), 0), invalid, "ws_flush(NULL)");
            expect(ws_dispatch(ptr::null_mut(), 0), invalid, "ws_dispatch(NULL)");
            assert_eq!(ws_local_port(ptr::null()), 0);
            assert_eq!(ws_event_fd(ptr::null()), -1);
        }
        11 => {
            // An options object of its own: random setters, then freed (or created and
            // destroyed when it happens to be valid and cheap).
            let mode = c_int::from(rec[6] % 3);
            let o = ws_options_new(mode);
            assert_eq!(o.is_null(), mode == 2, "ws_options_new({mode})");
            if !o.is_null() {
                let s = cstring(data);
                let p = if rec[7] & 1 == 0 {
                    s.as_ptr()
                } else {
                    ptr::null()
                };
                check(ws_options_set_address(o, p));
                let port = c_int::from(rec[2]) * 300 - 2000;
                let st = check(ws_options_set_port(o, port));
                if !(0..=65535).contains(&port) {
                    expect(st, ws_status::WS_ERR_INVALID_ARGUMENT, "port out of range");
                }
                check(ws_options_set_path(o, p));
                check(ws_options_set_protocol(o, p));
                check(ws_options_add_header(o, p, p));
                check(ws_options_set_max_message_size(o, len));
                check(ws_options_set_queue_capacity(o, usize::from(rec[3])));
                check(ws_options_set_reconnect_backoff_ms(
                    o,
                    u32::from(rec[4]),
                    u32::from(rec[5]),
                ));
                let policy = c_int::from(rec[7]) - 1;
                let st = check(ws_options_set_slow_policy(o, policy));
                if !(0..=1).contains(&policy) {
                    expect(st, ws_status::WS_ERR_INVALID_ARGUMENT, "slow policy out of range");
                }
                let dispatch = c_int::from(rec[7] % 3);
                let st = check(ws_options_set_dispatch(o, dispatch));
                expect(
                    st,
                    if dispatch == 2 {
                        ws_status::WS_ERR_INVALID_ARGUMENT
                    } else {
                        ws_status::WS_OK
                    },
                    "dispatch mode",
                );
                check(ws_options_set_index_html(o, p));
                check(ws_options_set_tls(o, c_int::from(rec[7] & 2)));
                check(ws_options_set_callbacks(o, ptr::null(), ptr::null_mut()));
                ws_options_free(o);
            }
            ws_options_free(ptr::null_mut());
        }
        _ => {
            // Text that is not UTF-8 and messages above the limit are refused with nothing queued.
            let bad = [0xffu8, 0xfe, b'a'];
            assert!(matches!(
                check(ws_send(c, 0, bad.as_ptr().cast(), bad.len(), 1)),
                ws_status::WS_ERR_INVALID_ARGUMENT
                    | ws_status::WS_ERR_NOT_CONNECTED
                    | ws_status::WS_ERR_CLOSED
            ));
            // SAFETY: returns a valid thread-local string.
            let _ = unsafe { CStr::from_ptr(ws_last_error()) };
        }
    }
}

fn make(mode: c_int, port: u16, hdr: &[u8], cbs: &ws_callbacks) -> *mut ws_context {
    let o = ws_options_new(mode);
    assert!(!o.is_null());
    check(ws_options_set_address(o, c"127.0.0.1".as_ptr()));
    check(ws_options_set_port(o, c_int::from(port)));
    check(ws_options_set_dispatch(o, c_int::from(hdr[0] & 1)));
    check(ws_options_set_queue_capacity(
        o,
        1 + usize::from(hdr[1] % 64),
    ));
    check(ws_options_set_slow_policy(o, c_int::from(hdr[2] & 1)));
    check(ws_options_set_max_message_size(
        o,
        16 + usize::from(hdr[3]) * 64,
    ));
    check(ws_options_set_ping_interval_ms(
        o,
        u32::from(hdr[4] % 4) * 10,
    ));
    check(ws_options_set_pong_timeout_ms(
        o,
        10 + u32::from(hdr[4] % 3) * 20,
    ));
    check(ws_options_set_reconnect_backoff_ms(o, 1, 20));
    check(ws_options_set_callbacks(o, cbs, ptr::null_mut()));
    let mut c = ptr::null_mut();
    let st = check(ws_context_create(o, &mut c));
    ws_options_free(o);
    assert!(matches!(st, ws_status::WS_OK), "create failed");
    c
}

extern "C" fn sigpipe(_: c_int) {
    // A C program does not ignore SIGPIPE: the library must never raise it. Abort so libFuzzer
    // keeps the input.
    // SAFETY: write(2) and abort(3) are async-signal-safe.
    unsafe {
        let m = b"SIGPIPE raised inside ws_api\n";
        libc::write(2, m.as_ptr().cast(), m.len());
        libc::abort();
    }
}

fuzz_target!(|data: &[u8]| {
    static INIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: installing a handler at start-up.
    INIT.call_once(|| unsafe {
        libc::signal(libc::SIGPIPE, sigpipe as *const () as usize);
    });
    if data.len() < 5 {
        return;
    }
    let (hdr, prog) = data.split_at(5);
    let cbs = ws_callbacks {
        on_connect: Some(on_connect),
        on_receive: Some(on_receive),
        on_writable: Some(on_writable),
        on_close: Some(on_close),
        on_error: Some(on_error),
    };
    let srv = make(1, 0, hdr, &cbs);
    let port = ws_local_port(srv);
    let cli = make(0, port, hdr, &cbs);
    let ctxs = [Ctx(srv), Ctx(cli)];
    let sh = Shared {
        accepted: AtomicU64::new(0),
    };
    let scratch: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8 + b' ').collect();
    let records: Vec<&[u8]> = prog.chunks_exact(8).take(300).collect();
    std::thread::scope(|s| {
        for t in 0..3 {
            let (ctxs, sh, scratch, records) = (&ctxs, &sh, &scratch, &records);
            s.spawn(move || {
                for (i, rec) in records.iter().enumerate() {
                    if i % 3 == t {
                        run_call(rec, ctxs, sh, scratch);
                    }
                }
                // Manual dispatch: keep events moving so the I/O threads are never stalled.
                for c in ctxs {
                    check(ws_dispatch(c.0, 0));
                }
            });
        }
    });
    for c in &ctxs {
        check(ws_dispatch(c.0, 0));
    }
    let mut st = ws_stats {
        struct_size: std::mem::size_of::<ws_stats>() as u32,
        ..Default::default()
    };
    check(ws_get_stats(cli, &mut st));
    let mut unsent = u64::MAX;
    assert!(matches!(
        ws_context_destroy(cli, 20, &mut unsent),
        ws_status::WS_OK
    ));
    assert!(unsent != u64::MAX);
    assert!(matches!(
        ws_context_destroy(srv, 20, ptr::null_mut()),
        ws_status::WS_OK
    ));
    let _ = sh.accepted.load(Ordering::Relaxed);
});
