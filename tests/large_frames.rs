//! Large messages on the receive path (issue 15): a data frame whose payload is not all in one
//! read goes straight into its message buffer. Over real sockets on 127.0.0.1: messages of
//! 1 MiB and of max_message_size arrive intact in one frame and fragmented, over plain TCP
//! (raw peer, writes of every size down to one byte) and TLS (our client); frames announcing
//! more than the limits are refused at their header; peers that announce large frames and stall
//! hold no more than the memory budget allows and end by message_timeout, not by the budget.
//! Bounded: every wait has a deadline.

mod common;
mod common_faults;

use std::io::Write;
use std::time::{Duration, Instant};

use common::certs::cert;
use common::*;
use common_faults::*;
use ws_api::engine::MsgKind;

/// max_message_size of the servers here (small enough for debug builds to move quickly).
const MAX: usize = 2 << 20;
const KEY: Option<[u8; 4]> = Some([0x5a, 0x01, 0xc3, 0x77]);

/// Binary bytes that differ from message to message and from place to place.
fn binary(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// Text of exactly `len` bytes with two- and three-byte characters (fragment boundaries fall
/// inside them).
fn text(len: usize) -> Vec<u8> {
    let unit = "a\u{e9}b\u{20ac}c".as_bytes(); // 1 + 2 + 1 + 3 + 1 bytes
    let mut t: Vec<u8> = unit.iter().copied().cycle().take(len).collect();
    // Do not end inside a character.
    while std::str::from_utf8(&t).is_err() {
        t.pop();
    }
    t.resize(len, b'z');
    t
}

/// The frames of `payload` cut at `cuts` (first frame `op`, then continuations).
fn fragments(op: u8, payload: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut start = 0;
    for (i, &end) in cuts.iter().chain([payload.len()].iter()).enumerate() {
        let last = end == payload.len();
        let o = if i == 0 { op } else { OP_CONT };
        wire.extend(frame(last, o, &payload[start..end], KEY));
        start = end;
    }
    wire
}

/// Writes `bytes` in pieces of growing size (1, 2, 3, ... bytes, then the rest), so the
/// server's reads end anywhere in headers and payloads.
fn send_in_pieces(raw: &mut Raw, bytes: &[u8]) {
    let mut pos = 0;
    let mut step = 1;
    while pos < bytes.len() && step < 600 {
        let end = (pos + step).min(bytes.len());
        raw.send(&bytes[pos..end]);
        pos = end;
        step += 1;
    }
    raw.send(&bytes[pos..]);
}

fn wait_messages(rec: &Recorder, n: usize) -> Vec<(Vec<u8>, MsgKind)> {
    rec.wait("messages", T, |l| {
        (l.messages.len() >= n)
            .then(|| l.messages.iter().map(|(_, d, k)| (d.clone(), *k)).collect())
    })
}

#[test]
fn large_messages_arrive_intact_in_one_frame_and_fragmented() {
    let (srv, rec) = server(|c| c.max_message_size = MAX);
    let mut raw = Raw::open(srv.local_port());
    let mib = binary(1 << 20, 1);
    let mib_text = text(1 << 20);
    let max = binary(MAX, 2);
    let max_text = text(MAX);
    let expect = vec![
        (mib.clone(), MsgKind::Binary),
        (mib_text.clone(), MsgKind::Text),
        (max.clone(), MsgKind::Binary),
        (max_text.clone(), MsgKind::Text),
        (mib_text.clone(), MsgKind::Text),
        (b"end".to_vec(), MsgKind::Binary),
    ];
    raw.send(&frame(true, OP_BINARY, &mib, KEY));
    raw.send(&fragments(OP_TEXT, &mib_text, &[300_001, 700_003]));
    raw.send(&frame(true, OP_BINARY, &max, KEY));
    raw.send(&fragments(
        OP_TEXT,
        &max_text,
        &[1, 70_000, 70_002, 1_000_000, 2_000_000],
    ));
    // Headers and payload cut everywhere, and a ping between two fragments.
    let mut wire = frame(false, OP_TEXT, &mib_text[..20_000], KEY);
    wire.extend(frame(false, OP_CONT, &mib_text[20_000..600_000], KEY));
    wire.extend(frame(true, OP_PING, b"between", KEY));
    wire.extend(frame(true, OP_CONT, &mib_text[600_000..], KEY));
    wire.extend(frame(true, OP_BINARY, b"end", KEY));
    send_in_pieces(&mut raw, &wire);
    let got = wait_messages(&rec, expect.len());
    assert_eq!(got.len(), expect.len());
    for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
        assert_eq!(g.1, e.1, "message {i}: kind");
        assert!(g.0 == e.0, "message {i}: {} bytes, not intact", g.0.len());
    }
    let pong = raw.read_frame().expect("the pong");
    assert_eq!(
        (pong.op, pong.payload.as_slice()),
        (OP_PONG, &b"between"[..])
    );
    // One byte over max_message_size, announced in a frame's header: 1009 before its payload.
    raw.send(&frame(true, OP_BINARY, &vec![0; MAX + 1], KEY)[..14]);
    assert_eq!(raw.expect_close().0, 1009);
    assert!(
        rec.with(|l| l.errors.is_empty()),
        "{:?}",
        rec.with(|l| l.errors.clone())
    );
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn large_messages_arrive_intact_over_tls() {
    let (srv, srec) = server(|c| {
        c.tls = true;
        c.cert = cert("server.pem");
        c.key = cert("server.key");
        c.max_message_size = MAX;
    });
    let (cli, crec) = client(srv.local_port(), |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.max_message_size = MAX;
    });
    let conn = srec.wait("connect", T, |l| l.connects.first().copied());
    let msgs = [binary(1 << 20, 3), binary(MAX, 4), text(MAX - 3)];
    for m in &msgs {
        let kind = if m[0] == b'a' {
            MsgKind::Text
        } else {
            MsgKind::Binary
        };
        cli.send(0, m, kind).unwrap();
        srv.send(conn, m, kind).unwrap();
    }
    for (side, rec) in [("server", &srec), ("client", &crec)] {
        let got = wait_messages(rec, msgs.len());
        for (i, (g, e)) in got.iter().zip(&msgs).enumerate() {
            assert!(
                g.0 == *e,
                "{side}: message {i} not intact ({} bytes)",
                g.0.len()
            );
        }
    }
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn peers_announcing_large_frames_and_stalling_hold_within_the_budget() {
    const BUDGET: usize = 8 << 20;
    const TIMEOUT: Duration = Duration::from_millis(1500);
    let (srv, rec) = server(|c| {
        c.max_buffered_bytes = BUDGET;
        c.message_timeout = TIMEOUT;
        c.ping_interval = Duration::ZERO;
    });
    let port = srv.local_port();
    // Lengths above the limits are refused at the header, before anything is allocated.
    let mut huge = Raw::open(port);
    let mut h = frame(true, OP_BINARY, b"", KEY);
    h[1] = 0x80 | 127;
    h.splice(2..2, (i64::MAX as u64).to_be_bytes());
    huge.send(&h);
    assert_eq!(huge.expect_close().0, 1009, "2^63 - 1 bytes announced");
    let mut top = Raw::open(port);
    h[2] |= 0x80;
    top.send(&h);
    assert_eq!(top.expect_close().0, 1002, "the length's top bit set");
    // Twelve peers announce 1 MiB and one announces max_message_size (16 MiB): 28 MiB against
    // a budget of 8 MiB. Each sends a few bytes and stalls.
    let mut stalled = Vec::new();
    for i in 0..13 {
        let len = if i == 6 { 16 << 20 } else { 1 << 20 };
        let mut p = Raw::open(port);
        let mut f = frame(true, OP_BINARY, &[], KEY);
        f[1] = 0x80 | 127;
        f.splice(2..2, (len as u64).to_be_bytes());
        f.extend(std::iter::repeat_n(9u8, 100 * (i + 1)));
        p.s.write_all(&f).unwrap();
        stalled.push(p);
    }
    // Until message_timeout closes them: what the server holds never exceeds half the budget
    // (what frames may allocate ahead of their bytes) plus what arrived, with room to grow.
    let started = Instant::now();
    let mut most = 0u64;
    wait_until("message_timeout to close every stalled peer", T, || {
        most = most.max(srv.stats().buffered_bytes);
        rec.with(|l| l.closes.len() >= 15)
    });
    assert!(started.elapsed() < T);
    let bound = (BUDGET / 2 + 13 * (2 * 1400 + 4096)) as u64;
    eprintln!("stalled peers: the server held at most {most} bytes (bound {bound})");
    assert!(
        most > 0 && most <= bound,
        "held at most {most}, bound {bound}"
    );
    for p in &mut stalled {
        assert_eq!(p.expect_close().0, 1008);
    }
    rec.with(|l| {
        for (conn, e) in &l.errors {
            assert!(
                !e.message.contains("memory budget"),
                "connection {conn} closed by the budget: {e:?}"
            );
        }
    });
    wait_until("the stalled peers' bytes to be freed", T, || {
        srv.stats().buffered_bytes < 64 * 1024
    });
    srv.shutdown(Duration::from_secs(1));
}
