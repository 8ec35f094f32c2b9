//! Regression (found by fuzz/c_api, which died of SIGPIPE): a C host does not ignore SIGPIPE the
//! way Rust programs do, so the engine must never raise it. A peer that half-closes (FIN) and then
//! resets leaves the server's socket with EPIPE pending; a plain writev then kills the process.
//! This binary restores SIGPIPE's default action, like a C program, and runs that sequence.

mod common;
mod common_faults;

use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::*;
use common_faults::*;
use ws_api::engine::MsgKind;

#[test]
fn peer_half_close_then_reset_never_raises_sigpipe() {
    // SAFETY: setting a signal disposition; this test binary has no other test.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (srv, srec) = server(|c| c.ping_interval = Duration::ZERO);
    let raw = Raw::open(srv.local_port());
    let id = srec.wait("connect", T, |l| l.connects.first().copied());
    // The server does not read this peer, so only a write can discover what happens to it.
    srv.rx_flow(id, false).unwrap();
    for i in 0..50 {
        srv.send(id, &seq_msg(i, 1000), MsgKind::Binary).unwrap();
    }
    srv.flush(T).unwrap();
    // FIN first (the server's socket goes to CLOSE_WAIT), then RST with data unread.
    raw.s.shutdown(Shutdown::Write).unwrap();
    raw.reset();
    // Keep writing until the server notices; with a plain writev the process dies here.
    let deadline = Instant::now() + T;
    let mut i = 50;
    while srec.with(|l| l.closes.is_empty()) {
        assert!(Instant::now() < deadline, "the dead peer was never noticed");
        let _ = srv.send(id, &seq_msg(i, 1000), MsgKind::Binary);
        i += 1;
        // Wait for the close, or 20 ms before the next write.
        let (m, cv) = &*srec.0;
        let g = m.lock().unwrap();
        drop(
            cv.wait_timeout_while(g, Duration::from_millis(20), |l| l.closes.is_empty())
                .unwrap(),
        );
    }
    assert_eq!(srec.with(|l| l.closes[0].1), 1006);
    srv.shutdown(Duration::from_secs(1));
}
