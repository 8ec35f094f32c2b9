//! A client writes a message from the sending thread when its connection is idle
//! (`src/engine/direct.rs`), otherwise through the queue: messages arrive once each and in
//! order whichever path each took and however the threads interleave, a write the socket takes
//! only in part is finished before anything queued after it, the counters and `on_sent` come
//! out exactly as for queued messages, and TLS, compression and acknowledgements never take the
//! direct path.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ws_api::engine::{AckMode, Context, MsgKind};

/// Gap between paced sends: far above the direct path's quiet time, so an idle connection is
/// written from the sending thread.
const PACE: Duration = Duration::from_micros(300);

/// Sends `n` paced binary messages of `len` bytes; answers their sequence numbers.
fn paced(cli: &Context, n: usize, len: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            std::thread::sleep(PACE);
            let mut m = vec![b'p'; len];
            m[0] = i as u8;
            cli.send_seq(0, &m, MsgKind::Binary).unwrap()
        })
        .collect()
}

fn connected(srec: &Recorder, crec: &Recorder) {
    crec.wait("client open", T, |l| (!l.connects.is_empty()).then_some(()));
    srec.wait("server open", T, |l| (!l.connects.is_empty()).then_some(()));
}

/// Every counter a sent message moves, once the client has nothing left.
fn settled(cli: &Context, n: u64, payload: u64) {
    cli.flush(T).unwrap();
    let s = cli.stats();
    assert_eq!(s.messages_queued, 0, "{s:?}");
    assert_eq!(s.messages_sent, n, "{s:?}");
    assert_eq!(s.bytes_sent, payload, "{s:?}");
    assert_eq!(s.messages_sent_seq, n, "{s:?}");
    assert_eq!(s.messages_dropped, 0, "{s:?}");
    assert_eq!(s.send_rejected, 0, "{s:?}");
}

#[test]
fn paced_sends_are_written_from_the_sending_thread_and_counted_like_queued_ones() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = client(srv.local_port(), |c| c.report_sent = true);
    connected(&srec, &crec);
    let n = 200;
    let seqs = paced(&cli, n, 100);
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());
    srec.wait("every message", T, |l| {
        (l.messages.len() == n).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1[0], i as u8, "message {i} out of order");
            assert_eq!(m.1.len(), 100);
        }
    });
    settled(&cli, n as u64, 100 * n as u64);
    let s = cli.stats();
    // Paced sends find the connection idle: most are direct (an I/O thread busy with a ping
    // or a slow scheduler may take a few).
    assert!(s.messages_written_direct > 0, "{s:?}");
    assert!(s.messages_written_direct <= n as u64, "{s:?}");
    // on_sent still comes, from the I/O thread, up to the last number.
    crec.wait("on_sent up to the last", T, |l| {
        (l.sent.last().map(|s| s.1) == Some(n as u64)).then_some(())
    });
    crec.with(|l| {
        for w in l.sent.windows(2) {
            assert!(w[0].1 < w[1].1, "on_sent went back: {:?}", l.sent);
        }
        let io = l.sent[0].2;
        assert!(
            l.sent.iter().all(|s| s.2 == io),
            "on_sent from several threads"
        );
        assert_ne!(io, std::thread::current().id());
    });
}

#[test]
fn threads_mixing_direct_and_queued_sends_keep_each_threads_order_and_contiguous_numbers() {
    let (srv, srec) = server(|c| c.queue_capacity = 1 << 20);
    let (cli, crec) = client(srv.local_port(), |c| {
        c.queue_capacity = 1 << 20;
        c.report_sent = true;
    });
    connected(&srec, &crec);
    let cli = Arc::new(cli);
    let threads = 4u8;
    let per = 1500u32;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let cli = cli.clone();
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                for i in 0..per {
                    // Bursts (queued: too close together) between pauses (direct).
                    if i % 50 == 0 {
                        std::thread::sleep(PACE);
                    }
                    let mut m = vec![t];
                    m.extend_from_slice(&i.to_be_bytes());
                    m.resize(40 + (i as usize % 300), b'x');
                    seqs.push(cli.send_seq(0, &m, MsgKind::Binary).unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        let seqs = h.join().unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "numbers of one thread go back"
        );
        all.extend(seqs);
    }
    let total = threads as usize * per as usize;
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=total as u64).collect::<Vec<_>>(),
        "numbers not contiguous"
    );
    srec.wait("every message", T, |l| {
        (l.messages.len() >= total).then_some(())
    });
    let mut payload = 0u64;
    srec.with(|l| {
        assert_eq!(l.messages.len(), total, "a message arrived twice");
        let mut next: HashMap<u8, u32> = HashMap::new();
        for (_, m, _) in &l.messages {
            let i = u32::from_be_bytes(m[1..5].try_into().unwrap());
            let e = next.entry(m[0]).or_default();
            assert_eq!(i, *e, "thread {}'s messages out of order", m[0]);
            assert_eq!(m.len(), 40 + (i as usize % 300));
            *e += 1;
            payload += m.len() as u64;
        }
        assert!(next.values().all(|&v| v == per));
    });
    settled(&cli, total as u64, payload);
    let s = cli.stats();
    assert!(s.messages_written_direct > 0, "no direct write: {s:?}");
    assert!(
        s.messages_written_direct < total as u64,
        "no queued write: {s:?}"
    );
    crec.wait("on_sent up to the last", T, |l| {
        (l.sent.last().map(|s| s.1) == Some(total as u64)).then_some(())
    });
}

#[test]
fn a_direct_write_the_socket_takes_in_part_is_finished_before_later_sends() {
    // A raw peer with a small receive window that reads nothing until everything is sent.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, |c| {
        c.queue_capacity = 1 << 16;
        c.max_message_size = 64 << 20;
        // The peer answers no ping; the test may run slowly (ThreadSanitizer).
        c.ping_interval = Duration::ZERO;
    });
    let mut peer = mute_server(&l);
    crec.wait("client open", T, |l| (!l.connects.is_empty()).then_some(()));
    // Direct while the socket has room.
    let small = paced(&cli, 20, 10);
    let before = cli.stats();
    assert!(before.messages_written_direct > 0, "{before:?}");
    // Larger than the socket buffers can take (the sender's grows to 4 MiB at most by default,
    // the silent peer's stays small): a direct write of it stops part-way.
    let big: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    std::thread::sleep(PACE);
    let big_seq = cli.send_seq(0, &big, MsgKind::Binary).unwrap();
    let mut seqs = small.clone();
    seqs.push(big_seq);
    for i in 0..200u32 {
        seqs.push(cli.send_seq(0, &i.to_be_bytes(), MsgKind::Binary).unwrap());
    }
    assert_eq!(seqs, (1..=221).collect::<Vec<_>>());
    let after = cli.stats();
    assert!(
        after.direct_writes_unfinished > before.direct_writes_unfinished,
        "the large message was not written in part from the sending thread: {after:?}"
    );
    // Now read, slowly at first: every frame is whole and in order.
    peer.set_read_timeout(Some(T)).unwrap();
    let mut got = Vec::new();
    let started = Instant::now();
    while got.len() < 221 {
        assert!(started.elapsed() < T * 3, "peer read for too long");
        let (b0, p) = common::raw_frame::read_client_frame(&mut peer);
        if b0 & 0x0f == 0x2 {
            got.push(p);
        }
        if got.len() < 25 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    for (i, p) in got[..20].iter().enumerate() {
        assert_eq!(p[0], i as u8);
    }
    assert!(got[20] == big, "the large message was not intact");
    for (i, p) in got[21..].iter().enumerate() {
        assert_eq!(p[..], (i as u32).to_be_bytes());
    }
    settled(&cli, 221, 20 * 10 + big.len() as u64 + 200 * 4);
    let mut rest = [0u8; 1];
    peer.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!(
        peer.read(&mut rest).is_err(),
        "bytes after the last message"
    );
}

/// Paced sends over a connection set up by `srv_cfg`/`cli_cfg`: none is written directly.
fn never_direct(
    srv: (Context, Recorder),
    cli_cfg: impl FnOnce(&mut ws_api::engine::Config),
    what: &str,
) {
    let (srv, srec) = srv;
    let (cli, crec) = client(srv.local_port(), cli_cfg);
    connected(&srec, &crec);
    let n = 50;
    paced(&cli, n, 100);
    srec.wait("every message", T, |l| {
        (l.messages.len() == n).then_some(())
    });
    settled(&cli, n as u64, 100 * n as u64);
    let s = cli.stats();
    assert_eq!(s.messages_written_direct, 0, "{what}: {s:?}");
    assert_eq!(s.direct_writes_unfinished, 0, "{what}: {s:?}");
}

#[test]
fn tls_compression_and_acknowledgements_never_write_from_the_sending_thread() {
    use common::certs::cert;
    let tls = server(|c| {
        c.tls = true;
        c.cert = cert("server.pem");
        c.key = cert("server.key");
    });
    never_direct(
        tls,
        |c| {
            c.tls = true;
            c.cacert = cert("ca.pem");
        },
        "TLS",
    );
    never_direct(
        server(|c| c.compression = 1),
        |c| c.compression = 6,
        "compression",
    );
    never_direct(
        server(|c| c.acks = AckMode::Auto),
        |c| c.acks = AckMode::Auto,
        "acknowledgements",
    );
}
