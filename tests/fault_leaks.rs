//! Resource tests that measure the whole process (open fds, RSS), so they live in their own test
//! binary and run one at a time: other tests' sockets would blur the counts.

mod common;
mod common_faults;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use common_faults::*;
use ws_api::engine::{Config, Context, ErrorKind, Mode, MsgKind};

/// The tests of this file measure the process: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn counting_server(f: impl FnOnce(&mut Config)) -> (Context, Counter) {
    let mut c = Config::new(Mode::Server);
    c.address = "127.0.0.1".into();
    c.ping_interval = Duration::ZERO;
    f(&mut c);
    let ctx = Context::create(c).unwrap();
    let cnt = Counter::default();
    ctx.start(Box::new(CountHandler(cnt.clone()))).unwrap();
    (ctx, cnt)
}

/// One raw client: handshake, a message, then a clean close (even rounds) or a plain drop.
fn cycle(port: u16, i: u64) {
    let mut r = Raw::open(port);
    r.send(&client_frame(OP_BINARY, &seq_msg(0, 16)));
    if i % 2 == 0 {
        r.send(&client_frame(OP_CLOSE, &1000u16.to_be_bytes()));
        assert_eq!(r.expect_close().0, 1000);
    }
}

/// 10,000 connect/disconnect cycles against a server (half with a closing handshake, half
/// dropped), then 300 client contexts created, connected and destroyed, then the server
/// destroyed: afterwards the process holds exactly the file descriptors it had before and its RSS
/// has not grown beyond allocator noise.
#[test]
fn connect_disconnect_cycles_leave_nothing_behind() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t0 = Instant::now();
    // Warm-up on a first server: allocator pools, thread stacks, lazily built statics. Its
    // destroy joins its I/O thread, so every fd it had is closed when the baseline is taken.
    let (warm, wcnt) = counting_server(|_| {});
    for i in 0..500 {
        cycle(warm.local_port(), i);
    }
    wcnt.wait("warm-up closes", T, |c| (c.closes == 500).then_some(()));
    warm.shutdown(Duration::from_secs(1));
    drop(warm);
    let fds_before = fd_count();
    let rss_before = rss_kib();

    const N: u64 = 10_000;
    let (srv, cnt) = counting_server(|_| {});
    let port = srv.local_port();
    for i in 0..N {
        cycle(port, i);
    }
    cnt.wait("every close", Duration::from_secs(30), |c| {
        (c.closes == N).then_some(())
    });
    cnt.with(|c| {
        assert_eq!(c.connects, N);
        assert_eq!(c.received.values().sum::<u64>(), N);
        assert_eq!(c.close_codes.get(&1000), Some(&(N / 2)));
        assert_eq!(c.close_codes.get(&1006), Some(&(N / 2)));
    });
    let st = srv.stats();
    assert_eq!(st.connections_current, 0);
    assert_eq!(st.connections_total, N);

    // Client contexts: each has its own poll, waker and thread.
    for i in 0..300 {
        let (cli, crec) = client(port, |c| c.ping_interval = Duration::ZERO);
        crec.wait("client connect", T, |l| l.connects.first().copied());
        cli.send(0, &seq_msg(i, 16), MsgKind::Binary).unwrap();
        assert_eq!(cli.shutdown(Duration::from_secs(2)), 0);
    }
    cnt.wait("client closes", T, |c| (c.closes == 300 + N).then_some(()));
    srv.shutdown(Duration::from_secs(1));
    drop(srv);

    let fds_after = fd_count();
    let rss_after = rss_kib();
    eprintln!(
        "fds {fds_before} -> {fds_after}, RSS {rss_before} KiB -> {rss_after} KiB, {:?}",
        t0.elapsed()
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    // 10,300 connections: even 1 KiB leaked per connection would be 10 MiB.
    assert!(
        rss_after < rss_before + 4 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

/// A peer that stops reading: sends end in QueueFull, memory stays bounded by the queue (not by
/// what the application tries to send), and on_writable comes once the peer reads again; then
/// every accepted message arrives, in order.
#[test]
fn peer_that_stops_reading_bounded_memory_then_writable() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (srv, cnt) = counting_server(|c| c.queue_capacity = 32);
    let mut raw = Raw::open(srv.local_port());
    cnt.wait("connect", T, |c| (c.connects == 1).then_some(()));
    let id = 1;
    let rss_before = rss_kib();
    let size = 256 * 1024;
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    // 20,000 attempts of 256 KiB = 5 GB offered; only what fits the queue is kept.
    for _ in 0..20_000 {
        match srv.send(id, &seq_msg(accepted, size), MsgKind::Binary) {
            Ok(()) => accepted += 1,
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::QueueFull);
                rejected += 1;
            }
        }
    }
    let rss_full = rss_kib();
    eprintln!("accepted {accepted}, rejected {rejected}, RSS {rss_before} -> {rss_full} KiB");
    assert!(rejected > 19_000, "rejected only {rejected}");
    assert_eq!(srv.stats().send_rejected, rejected);
    // Queue (32) + write batch (1 MiB) + kernel buffers: far below what was offered.
    assert!(accepted < 200, "accepted {accepted}");
    assert!(
        rss_full < rss_before + 128 * 1024,
        "RSS grew from {rss_before} KiB to {rss_full} KiB"
    );
    srv.request_writable(id).unwrap();
    // Not yet: nothing moves while the peer does not read.
    assert_eq!(cnt.with(|c| c.writable), 0);
    let mut got = 0u64;
    while got < accepted {
        let f = raw.read_frame().expect("frame");
        assert_eq!(f.op, OP_BINARY);
        assert_eq!(f.payload.len(), size);
        assert_eq!(seq_of(&f.payload), got, "out of order");
        got += 1;
    }
    cnt.wait("on_writable", T, |c| (c.writable >= 1).then_some(()));
    srv.flush(T).unwrap();
    assert_eq!(
        cnt.with(|c| c.writable),
        1,
        "on_writable fires once per request"
    );
    // And it flows again.
    srv.send(id, &seq_msg(got, 8), MsgKind::Binary).unwrap();
    assert_eq!(seq_of(&raw.read_frame().unwrap().payload), got);
    // The I/O thread counts a message sent once its write returned: the peer may have read it
    // a moment before.
    wait_until("the last message to be counted sent", T, || {
        srv.stats().messages_sent == accepted + 1
    });
    let st = srv.stats();
    assert_eq!(st.messages_sent, accepted + 1);
    assert_eq!(st.messages_dropped, 0);
    srv.shutdown(Duration::from_secs(1));
}
