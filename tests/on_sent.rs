//! A client reports which accepted messages are written (`on_sent`, `messages_sent_seq`): the
//! numbers are consecutive, the report never runs ahead of the socket (whatever it does not
//! cover is still held and resent on the next connection), it stays monotonic across a
//! reconnect, and manual dispatch delivers it through `dispatch`.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use ws_api::engine::{Dispatch, ErrorKind, MsgKind};

/// A message carrying its index `i` (0-based; its sequence number is `i + 1`) and `pad` bytes.
fn indexed(i: u32, pad: usize) -> Vec<u8> {
    let mut m = i.to_be_bytes().to_vec();
    m.resize(4 + pad, b'x');
    m
}

fn index_of(m: &[u8]) -> u32 {
    u32::from_be_bytes(m[..4].try_into().unwrap())
}

/// The reports so far, checked to grow strictly; answers the last (0 if none).
fn reports_grow(rec: &Recorder) -> u64 {
    rec.with(|l| {
        for w in l.sent.windows(2) {
            assert!(
                w[0].1 < w[1].1,
                "on_sent went back or repeated: {:?}",
                l.sent
            );
        }
        l.sent.last().map_or(0, |s| s.1)
    })
}

/// Reads the client's frames from a raw server socket: answers the payloads of the first `n`
/// data frames (client frames are masked).
fn read_frames(s: &mut std::net::TcpStream, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while out.len() < n {
        let (b0, p) = common::raw_frame::read_client_frame(s);
        if b0 & 0x0f == 0x2 {
            out.push(p);
        }
    }
    out
}

#[test]
fn numbers_are_consecutive_and_on_sent_covers_what_the_server_received() {
    // No server yet: the queue fills while the client retries.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (cli, crec) = client(port, |c| {
        c.report_sent = true;
        c.queue_capacity = 100;
    });
    for i in 0..100u32 {
        let seq = cli.send_seq(0, &indexed(i, 10), MsgKind::Binary).unwrap();
        assert_eq!(seq, u64::from(i) + 1);
    }
    // A refused message takes no number.
    let e = cli.send_seq(0, b"refused", MsgKind::Binary).unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueueFull);
    assert_eq!(cli.stats().messages_sent_seq, 0);
    assert_eq!(
        reports_grow(&crec),
        0,
        "nothing is written without a server"
    );

    let (srv, srec) = server(|c| c.port = port);
    srec.wait("100 messages", T, |l| {
        (l.messages.len() == 100).then_some(())
    });
    crec.wait("on_sent up to 100", T, |l| {
        l.sent.last().and_then(|s| (s.1 == 100).then_some(()))
    });
    assert_eq!(
        cli.send_seq(0, &indexed(100, 10), MsgKind::Binary).unwrap(),
        101
    );
    srec.wait("message 101", T, |l| {
        (l.messages.len() == 101).then_some(())
    });
    crec.wait("on_sent up to 101", T, |l| {
        l.sent.last().and_then(|s| (s.1 == 101).then_some(()))
    });
    assert_eq!(reports_grow(&crec), 101);
    assert_eq!(cli.stats().messages_sent_seq, 101);
    srec.with(|l| {
        for (k, m) in l.messages.iter().enumerate() {
            assert_eq!(index_of(&m.1), k as u32, "in order, no gap");
        }
    });
    let conn = crec.with(|l| l.connects[0]);
    crec.with(|l| assert!(l.sent.iter().all(|s| s.0 == conn)));
    cli.shutdown(Duration::from_secs(2));
    srv.shutdown(Duration::from_secs(2));
}

#[test]
fn on_sent_stops_short_while_the_server_does_not_read_then_resumes() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, |c| {
        c.ping_interval = Duration::ZERO;
        c.report_sent = true;
    });
    let mut mute = mute_server(&l);
    crec.wait("connect", T, |log| log.connects.first().copied());
    // 20 MB cannot fit in the socket buffers of a server that does not read.
    let n = 5000u32;
    for i in 0..n {
        cli.send_seq(0, &indexed(i, 4000), MsgKind::Binary).unwrap();
    }
    let first = crec.wait("a first on_sent", T, |log| log.sent.last().map(|s| s.1));
    assert!(first >= 1);
    let stats = cli.stats();
    let upto = reports_grow(&crec);
    assert!(
        upto < u64::from(n),
        "on_sent covered {upto} of {n} unread messages"
    );
    assert!(stats.messages_queued > 0, "messages stay queued");
    assert!(stats.messages_sent_seq < u64::from(n));
    // The server reads again: everything is written and reported.
    let reader = std::thread::spawn(move || {
        mute.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        read_frames(&mut mute, n as usize)
    });
    crec.wait("on_sent up to the last", Duration::from_secs(30), |log| {
        log.sent
            .last()
            .and_then(|s| (s.1 == u64::from(n)).then_some(()))
    });
    let got = reader.join().unwrap();
    for (k, m) in got.iter().enumerate() {
        assert_eq!(index_of(m), k as u32);
    }
    assert_eq!(reports_grow(&crec), u64::from(n));
    assert_eq!(cli.stats().messages_sent_seq, u64::from(n));
    cli.shutdown(Duration::ZERO);
}

#[test]
fn across_a_reconnect_on_sent_stays_monotonic_and_covers_only_what_was_written() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, |c| {
        c.ping_interval = Duration::ZERO;
        c.report_sent = true;
    });
    let mut mute = mute_server(&l);
    crec.wait("connect", T, |log| log.connects.first().copied());
    let n = 5000u32;
    for i in 0..n {
        cli.send_seq(0, &indexed(i, 4000), MsgKind::Binary).unwrap();
    }
    crec.wait("a first on_sent", T, |log| log.sent.last().map(|s| s.1));
    // The server goes away: a close frame, then its socket and listener vanish.
    std::io::Write::write_all(&mut mute, &[0x88, 0x02, 0x03, 0xe9]).unwrap();
    drop(mute);
    drop(l);
    crec.wait("close", T, |log| log.closes.first().map(|c| c.1));
    // The old connection's last report comes before its on_close; nothing is written until
    // a server listens again, so no report can follow meanwhile.
    let at_drop = reports_grow(&crec);
    assert!(at_drop < u64::from(n));
    let (srv, srec) = server(|c| c.port = port);
    let first = srec.wait(
        "first message on the new connection",
        Duration::from_secs(30),
        |log| log.messages.first().map(|m| index_of(&m.1)),
    );
    // Whatever on_sent did not cover was still held: the new connection starts right after it
    // (a frame cut in the middle by the drop is not covered and is sent again whole).
    assert_eq!(
        u64::from(first) + 1,
        at_drop + 1,
        "first resent seq follows the report"
    );
    let need = (n - first) as usize;
    srec.wait("the rest", Duration::from_secs(30), |log| {
        (log.messages.len() >= need).then_some(())
    });
    crec.wait("on_sent up to the last", T, |log| {
        log.sent
            .last()
            .and_then(|s| (s.1 == u64::from(n)).then_some(()))
    });
    assert_eq!(reports_grow(&crec), u64::from(n));
    srec.with(|log| {
        assert_eq!(log.messages.len(), need);
        for (k, m) in log.messages.iter().enumerate() {
            assert_eq!(index_of(&m.1), first + k as u32);
        }
    });
    // Reports after the drop name the new connection.
    crec.with(|log| {
        let second = log.connects[1];
        assert!(log
            .sent
            .iter()
            .filter(|s| s.1 > at_drop)
            .all(|s| s.0 == second));
    });
    cli.shutdown(Duration::from_secs(2));
    srv.shutdown(Duration::from_secs(2));
}

#[test]
fn senders_on_several_threads_get_distinct_numbers_and_on_sent_covers_them_all() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = client(srv.local_port(), |c| c.report_sent = true);
    let cli = std::sync::Arc::new(cli);
    let per = 2000u32;
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let cli = cli.clone();
            std::thread::spawn(move || {
                (0..per)
                    .map(|i| {
                        let m = indexed(t * per + i, 8);
                        cli.send_seq(0, &m, MsgKind::Binary).unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    let total = u64::from(4 * per);
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    srec.wait("every message", Duration::from_secs(30), |l| {
        (l.messages.len() == total as usize).then_some(())
    });
    crec.wait("on_sent up to the last", T, |l| {
        l.sent.last().and_then(|s| (s.1 == total).then_some(()))
    });
    reports_grow(&crec);
    cli.shutdown(Duration::from_secs(2));
    srv.shutdown(Duration::from_secs(2));
}

fn wait_readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

#[test]
fn manual_dispatch_delivers_on_sent_through_dispatch() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = client(srv.local_port(), |c| {
        c.report_sent = true;
        c.dispatch = Dispatch::Manual;
    });
    let fd = cli.event_fd().expect("manual mode has an event fd");
    for i in 0..50u32 {
        cli.send_seq(0, &indexed(i, 8), MsgKind::Binary).unwrap();
    }
    srec.wait("50 messages", T, |l| (l.messages.len() == 50).then_some(()));
    let deadline = Instant::now() + T;
    while reports_grow(&crec) < 50 {
        assert!(Instant::now() < deadline, "on_sent not dispatched");
        if wait_readable(fd, 1000) {
            cli.dispatch(0).unwrap();
        }
    }
    let me = std::thread::current().id();
    crec.with(|l| assert!(l.sent.iter().all(|s| s.2 == me), "ran on another thread"));
    cli.shutdown(Duration::from_secs(2));
    srv.shutdown(Duration::from_secs(2));
}

/// A TLS server with the test certificate, on `port` (0: any).
fn tls_server(port: u16) -> (ws_api::engine::Context, Recorder) {
    server(|c| {
        c.port = port;
        c.tls = true;
        c.cert = common::certs::cert("server.pem");
        c.key = common::certs::cert("server.key");
    })
}

#[test]
fn over_tls_what_on_sent_did_not_cover_at_a_drop_is_resent_on_the_next_connection() {
    let (srv, srec) = tls_server(0);
    let port = srv.local_port();
    let (cli, crec) = client(port, |c| {
        c.ping_interval = Duration::ZERO;
        c.report_sent = true;
        c.tls = true;
        c.cacert = common::certs::cert("ca.pem");
    });
    let sconn = srec.wait("server connect", T, |l| l.connects.first().copied());
    crec.wait("client connect", T, |l| l.connects.first().copied());
    // The server stops reading: the client's socket and OpenSSL's batch fill up.
    srv.rx_flow(sconn, false).unwrap();
    let n = 5000u32;
    for i in 0..n {
        cli.send_seq(0, &indexed(i, 4000), MsgKind::Binary).unwrap();
    }
    crec.wait("a first on_sent", T, |l| l.sent.last().map(|s| s.1));
    let before = srec.with(|l| l.messages.len()) as u32;
    // The server goes away with the client's bytes unread.
    srv.shutdown(Duration::ZERO);
    drop(srv);
    crec.wait("close", T, |l| l.closes.first().map(|c| c.1));
    let at_drop = reports_grow(&crec);
    assert!(at_drop < u64::from(n));
    let (srv2, srec2) = tls_server(port);
    let first = srec2.wait("first message again", Duration::from_secs(30), |l| {
        l.messages.first().map(|m| index_of(&m.1))
    });
    assert_eq!(
        u64::from(first),
        at_drop,
        "the new connection starts after the report"
    );
    assert!(
        first >= before,
        "the first server read {before} before it stopped"
    );
    let need = (n - first) as usize;
    srec2.wait("the rest", Duration::from_secs(30), |l| {
        (l.messages.len() >= need).then_some(())
    });
    crec.wait("on_sent up to the last", T, |l| {
        l.sent
            .last()
            .and_then(|s| (s.1 == u64::from(n)).then_some(()))
    });
    assert_eq!(reports_grow(&crec), u64::from(n));
    srec2.with(|l| {
        assert_eq!(l.messages.len(), need);
        for (k, m) in l.messages.iter().enumerate() {
            assert_eq!(index_of(&m.1), first + k as u32);
        }
    });
    cli.shutdown(Duration::from_secs(2));
    srv2.shutdown(Duration::from_secs(2));
}
