//! The three features that were built apart, together, over real sockets on 127.0.0.1:
//! end-to-end acknowledgements (docs/acks.md) with permessage-deflate (docs/compression.md): a
//! resend is compressed again by the next connection's fresh compressor, the window counts
//! uncompressed bytes, a server dropped mid-stream and restarted gets every message intact;
//! replay (docs/replay.md) with permessage-deflate: a deflate subscriber replays plain history
//! then compressed live broadcasts next to a plain one, and history counts both lanes; and all
//! three on one server context, with the three headers of its 101. Python's `websockets` (the
//! #[ignore]d `python_*` test, python3 with websockets in $PYTHON) replays as a deflate
//! subscriber that checks RSV1 strictly.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use flate2::{Decompress, FlushDecompress};
use ws_api::engine::{AckMode, Config, Context, MsgKind, Retention};

/// RSV1: the frame starts a compressed message.
const RSV1: u8 = 0x40;

/// A log-like line carrying its number (compressible, like what syslog-ng sends).
fn line(seq: u64) -> String {
    format!(
        "{seq:08} <13>Dec  1 16:{:02}:{:02} host{} app[{}]: user {} logged in from 10.0.{}.{}",
        seq % 60,
        (seq * 7) % 60,
        seq % 5,
        1000 + seq % 17,
        seq % 23,
        seq % 7,
        seq % 250
    )
}

fn number_of(m: &[u8]) -> u64 {
    std::str::from_utf8(&m[..8]).unwrap().parse().unwrap()
}

/// Sends lines `from..=to` with `send_seq`, checking their numbers.
fn send_lines(cli: &Context, from: u64, to: u64) {
    for i in from..=to {
        let seq = cli.send_seq(0, line(i).as_bytes(), MsgKind::Text).unwrap();
        assert_eq!(seq, i);
    }
}

/// An inflater for one direction of one connection (context takeover: the window carries over
/// from message to message until the connection ends).
struct Inflate(Decompress);

impl Inflate {
    fn new() -> Self {
        Inflate(Decompress::new(false))
    }

    fn message(&mut self, z: &[u8]) -> Vec<u8> {
        let mut input = z.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(64 * 1024);
        let before = self.0.total_in();
        while ((self.0.total_in() - before) as usize) < input.len() {
            let done = (self.0.total_in() - before) as usize;
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            self.0
                .decompress_vec(&input[done..], &mut out, FlushDecompress::Sync)
                .expect("valid compressed data");
        }
        out
    }
}

// ----- a raw server that agrees on permessage-deflate and acknowledgements -----

/// Accepts one client: checks it offers both, agrees on both (context takeover both ways, as
/// when the server asks nothing); answers the socket.
fn raw_accept(l: &TcpListener) -> TcpStream {
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let header = |name: &str| {
        text.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    assert_eq!(header("WS-API-Ack").as_deref(), Some("1"), "{text}");
    assert!(
        header("Sec-WebSocket-Extensions").is_some_and(|e| e.contains("permessage-deflate")),
        "{text}"
    );
    let key = header("Sec-WebSocket-Key").unwrap();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    write!(
        s,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\
         WS-API-Ack: 1\r\n\r\n"
    )
    .unwrap();
    s
}

/// Reads the client's next `n` data messages, each of which must be compressed (RSV1) and
/// inflate with this connection's inflater; answers them.
fn read_compressed(s: &mut TcpStream, z: &mut Inflate, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while out.len() < n {
        let (b0, p) = common::raw_frame::read_client_frame(s);
        if b0 & 0x0f == 0x1 {
            assert_eq!(b0, 0x80 | RSV1 | 0x1, "a final, compressed text frame");
            out.push(z.message(&p));
        }
    }
    out
}

/// An unmasked pong from the server.
fn pong(s: &mut TcpStream, payload: &[u8]) {
    let mut f = vec![0x8a, payload.len() as u8];
    f.extend_from_slice(payload);
    s.write_all(&f).unwrap();
}

fn deflate_ack_client(port: u16, window: usize) -> (Context, Recorder) {
    client(port, |c| {
        c.compression = 1;
        c.acks = AckMode::Auto;
        c.report_acked = true;
        c.ack_window = window;
    })
}

fn acked(rec: &Recorder, n: u64) {
    rec.wait(&format!("on_acked {n}"), T, |l| {
        l.acked.last().filter(|a| a.1 == n).map(|_| ())
    });
}

#[test]
fn unacknowledged_messages_are_resent_compressed_by_the_next_connections_fresh_compressor() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = deflate_ack_client(l.local_addr().unwrap().port(), 100);
    let mut s = raw_accept(&l);
    send_lines(&cli, 1, 10);
    let mut z = Inflate::new();
    let first = read_compressed(&mut s, &mut z, 10);
    for (i, m) in (1..=10).zip(&first) {
        assert_eq!(m, line(i).as_bytes());
    }
    pong(&mut s, b"ack 4");
    acked(&crec, 4);
    drop(s);
    // Queued while the client reconnects.
    send_lines(&cli, 11, 12);
    // A connection that ends after reading part of the resends: they were compressed for it,
    // and go back uncompressed for the next one.
    let mut s = raw_accept(&l);
    let mut z = Inflate::new();
    let part = read_compressed(&mut s, &mut z, 3);
    for (i, m) in (5..=7).zip(&part) {
        assert_eq!(m, line(i).as_bytes());
    }
    drop(s);
    let mut s = raw_accept(&l);
    // A new connection, a new compressor: its first message inflates with a fresh inflater,
    // and the resends come first, in order, each intact.
    let mut z = Inflate::new();
    let again = read_compressed(&mut s, &mut z, 8);
    for (i, m) in (5..=12).zip(&again) {
        assert_eq!(
            String::from_utf8_lossy(m),
            line(i),
            "message {i} after the reconnect"
        );
    }
    // 5..10 are resends on each connection after the first (the second wrote at least the
    // three read); 11 and 12 too if a connection wrote them before it saw the server go.
    wait_until("the resends counted", T, || {
        let st = cli.stats();
        st.messages_sent == 12 + st.messages_resent && st.messages_resent >= 6 + 3
    });
    assert!(cli.stats().messages_resent <= 16, "{:?}", cli.stats());
    // New messages go on with the same compressor (context takeover).
    send_lines(&cli, 13, 20);
    for (i, m) in (13..=20).zip(read_compressed(&mut s, &mut z, 8)) {
        assert_eq!(m, line(i).as_bytes());
    }
    pong(&mut s, b"ack 16");
    acked(&crec, 20);
    let st = cli.stats();
    assert_eq!(st.messages_acked_seq, 20);
    assert_eq!(st.connections_compressed, 1);
}

#[test]
fn the_window_of_a_compressing_client_counts_the_uncompressed_frames() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = deflate_ack_client(l.local_addr().unwrap().port(), 8);
    let mut s = raw_accept(&l);
    // 100 KB messages that compress to a few hundred bytes: the window keeps the uncompressed
    // frame (what will be resent), so that is what it counts. (Large, so that what it frees
    // stands out from the read buffer's few KiB coming and going.)
    let msg = |i: u64| format!("{i:08}{}", "x".repeat(99_992));
    for i in 1..=8 {
        assert_eq!(
            cli.send_seq(0, msg(i).as_bytes(), MsgKind::Text).unwrap(),
            i
        );
    }
    let mut z = Inflate::new();
    let got = read_compressed(&mut s, &mut z, 8);
    assert!(got.iter().zip(1..).all(|(m, i)| m == msg(i).as_bytes()));
    // A masked client frame of 100000 bytes: 2 + 8 (length) + 4 (mask) + 100000.
    let frame = 100_014u64;
    let mut before = 0;
    wait_until("the window in buffered_bytes", T, || {
        before = cli.stats().buffered_bytes;
        before >= 8 * frame
    });
    pong(&mut s, b"ack 3");
    acked(&crec, 3);
    let mut after = 0;
    let slack = 64 * 1024;
    wait_until("three released", T, || {
        after = cli.stats().buffered_bytes;
        after + 3 * frame <= before + slack
    });
    // Three uncompressed frames, give or take what the read buffer holds (a window counting
    // the compressed frames would free a thousandth of that).
    let freed = before.saturating_sub(after);
    assert!(
        (3 * frame - slack..=3 * frame + slack).contains(&freed),
        "{before} -> {after}: {freed} freed"
    );
    // The budget total also holds the client's compressor (about 320 KiB), not per message.
    assert!(after >= 5 * frame + 300 * 1024, "{after}");
    pong(&mut s, b"ack 8");
    acked(&crec, 8);
}

#[test]
fn a_server_dropped_mid_stream_and_restarted_gets_every_compressed_message_intact() {
    let (srv, srec) = server(|c| {
        c.acks = AckMode::Manual;
        c.compression = 1;
    });
    let port = srv.local_port();
    let n = 10_000u64;
    let (cli, crec) = client(port, |c| {
        c.compression = 6;
        c.acks = AckMode::Auto;
        c.report_acked = true;
        c.ack_window = 512;
        c.queue_capacity = n as usize;
    });
    send_lines(&cli, 1, n);
    srec.wait("a full window", T, |l| {
        (l.messages.len() == 512).then_some(())
    });
    let conn = srec.with(|l| l.connects[0]);
    srv.acknowledge(conn, 400).unwrap();
    srec.wait("the window moved", T, |l| {
        (l.messages.len() == 912).then_some(())
    });
    acked(&crec, 400);
    assert_eq!(srv.stats().connections_compressed, 1);
    drop(srv);
    let intact = |l: &Log| -> Vec<u64> {
        l.messages
            .iter()
            .map(|m| {
                let i = number_of(&m.1);
                assert_eq!(String::from_utf8_lossy(&m.1), line(i), "message {i}");
                i
            })
            .collect()
    };
    assert_eq!(srec.with(intact), (1..=912).collect::<Vec<_>>());
    let (srv2, srec2) = server(|c| {
        c.acks = AckMode::Auto;
        c.compression = 1;
        c.port = port;
    });
    crec.wait("every message acknowledged", Duration::from_secs(60), |l| {
        l.acked.last().filter(|a| a.1 == n).map(|_| ())
    });
    assert_eq!(
        srec2.with(intact),
        (401..=n).collect::<Vec<_>>(),
        "the unacknowledged first, in order, intact"
    );
    assert_eq!(srv2.stats().connections_compressed, 1);
    let st = cli.stats();
    assert_eq!(st.messages_resent, 512, "{st:?}");
    assert_eq!(st.messages_sent, n + 512, "{st:?}");
    assert_eq!(st.messages_acked_seq, n);
    assert_eq!(cli.shutdown(Duration::from_secs(5)), 0);
    drop(srv2);
}

// ----- replay with permessage-deflate -----

/// A raw subscriber: its handshake (with or without a permessage-deflate offer) and the
/// server's frames.
struct Sub {
    s: TcpStream,
    buf: Vec<u8>,
    /// The 101's head.
    head: String,
    z: Inflate,
}

impl Sub {
    fn open(port: u16, target: &str, extra: &str) -> Sub {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut sub = Sub {
            s,
            buf: Vec::new(),
            head: String::new(),
            z: Inflate::new(),
        };
        loop {
            if let Some(p) = sub.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = sub.buf.drain(..p + 4).collect();
                sub.head = String::from_utf8(head).unwrap();
                assert!(sub.head.starts_with("HTTP/1.1 101 "), "{}", sub.head);
                return sub;
            }
            sub.fill();
        }
    }

    fn fill(&mut self) {
        let mut tmp = [0u8; 65536];
        let n = self.s.read(&mut tmp).expect("the server's bytes");
        assert!(n > 0, "the server closed");
        self.buf.extend_from_slice(&tmp[..n]);
    }

    /// The next frame: (first byte, payload); one frame per message, RSV2 and RSV3 clear.
    fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if self.buf.len() >= 2 {
                let (len, hl) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    l => (l as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= hl + len {
                    let f: Vec<u8> = self.buf.drain(..hl + len).collect();
                    assert_eq!(f[0] & 0x80, 0x80, "one frame per message");
                    assert_eq!(f[0] & 0x30, 0, "RSV2 and RSV3 clear");
                    assert!(
                        f[0] & RSV1 == 0 || self.compressed(),
                        "RSV1 without negotiation"
                    );
                    return (f[0], f[hl..].to_vec());
                }
            }
            self.fill();
        }
    }

    /// The next data message, inflated: (compressed, payload). The server answers
    /// `server_no_context_takeover`, so each compressed message inflates on its own; an
    /// inflater that keeps its window (as a peer may) reads them too.
    fn data(&mut self) -> (bool, Vec<u8>) {
        loop {
            let (b0, p) = self.frame();
            match b0 & 0x0f {
                0x1 | 0x2 if b0 & RSV1 != 0 => return (true, self.z.message(&p)),
                0x1 | 0x2 => return (false, p),
                0x9 | 0xa => continue,
                op => panic!("unexpected opcode {op}"),
            }
        }
    }

    /// The next text message: (compressed, text).
    fn message(&mut self) -> (bool, String) {
        let (z, p) = self.data();
        (z, String::from_utf8(p).expect("UTF-8 text"))
    }

    fn compressed(&self) -> bool {
        self.header("Sec-WebSocket-Extensions")
            .is_some_and(|e| e.starts_with("permessage-deflate"))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The replay metadata: (first, missed).
    fn metadata(&mut self) -> (u64, u64) {
        let (_, t) = self.message();
        let field = |name: &str| -> u64 {
            let at = t
                .find(&format!("\"{name}\":"))
                .unwrap_or_else(|| panic!("{t}"));
            let rest = &t[at + name.len() + 3..];
            rest[..rest.find([',', '}']).unwrap()].parse().unwrap()
        };
        assert!(t.starts_with("{\"ws_api\":\"replay\","), "{t}");
        (field("first"), field("missed"))
    }
}

const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

fn replay_server(messages: u64, bytes: usize, f: impl FnOnce(&mut Config)) -> (Context, Recorder) {
    server(|c| {
        c.compression = 1;
        c.replay = Retention { messages, bytes };
        f(c);
    })
}

fn broadcast_range(srv: &Context, from: u64, to: u64) {
    for i in from..=to {
        srv.broadcast(line(i).as_bytes(), MsgKind::Text).unwrap();
    }
}

#[test]
fn a_deflate_subscriber_replays_plain_history_then_compressed_live_next_to_a_plain_one() {
    const N: u64 = 30_000;
    const HISTORY: u64 = 2000;
    let (srv, _rec) = replay_server(N, 64 << 20, |_| {});
    // Written while no deflate subscriber existed: plain segments only.
    broadcast_range(&srv, 1, HISTORY);
    let srv = Arc::new(srv);
    let port = srv.local_port();
    let done = Arc::new(AtomicU64::new(HISTORY));
    let broadcaster = {
        let (srv, done) = (srv.clone(), done.clone());
        thread::spawn(move || {
            for i in HISTORY + 1..=N {
                srv.broadcast(line(i).as_bytes(), MsgKind::Text).unwrap();
                done.store(i, Ordering::Release);
            }
        })
    };
    let readers: Vec<_> = (0..4u64)
        .map(|k| {
            let done = done.clone();
            thread::spawn(move || {
                // Deflate and plain subscribers, joining at different moments of the stream.
                let deadline = Instant::now() + T;
                while done.load(Ordering::Acquire) < HISTORY + k * N / 8 {
                    assert!(Instant::now() < deadline, "broadcaster stalled");
                    thread::yield_now();
                }
                let deflate = k % 2 == 0;
                let since = k * 300;
                let mut s = Sub::open(
                    port,
                    &format!("/?since={since}"),
                    if deflate { OFFER } else { "" },
                );
                assert_eq!(s.compressed(), deflate, "{}", s.head);
                assert_eq!(s.metadata(), (since + 1, 0), "subscriber {k}");
                let (mut plain, mut compressed) = (0u64, 0u64);
                for want in since + 1..=N {
                    let (z, t) = s.message();
                    assert_eq!(t, line(want), "subscriber {k}");
                    if z {
                        compressed += 1;
                    } else {
                        // A deflate subscriber exists from the first one's joining to the
                        // end: once compressed broadcasts come, all do.
                        assert_eq!(compressed, 0, "subscriber {k}: {want} plain");
                        plain += 1;
                    }
                }
                if deflate {
                    assert!(plain >= HISTORY - since, "history is plain: {plain}");
                    assert!(compressed > 0, "live broadcasts are compressed");
                } else {
                    assert_eq!(compressed, 0);
                }
            })
        })
        .collect();
    broadcaster.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    let srv = Arc::try_unwrap(srv).ok().unwrap();
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn a_deflate_subscriber_that_left_before_a_broadcast_to_nobody_leaves_no_stale_lane() {
    // Without retention: the broadcast to nobody forgets the log, and the next deflate
    // subscriber must get what comes next, not what the last one left behind.
    let (srv, rec) = server(|c| c.compression = 1);
    let port = srv.local_port();
    for round in 0..20u64 {
        let mut s = Sub::open(port, "/", OFFER);
        rec.wait("connect", T, |l| l.connects.get(round as usize).copied());
        let base = round * 1000;
        broadcast_range(&srv, base + 1, base + 5);
        for i in base + 1..=base + 5 {
            assert_eq!(s.message(), (true, line(i)));
        }
        // Leaves while broadcasts go on; one of them finds nobody.
        drop(s);
        broadcast_range(&srv, base + 6, base + 8);
        rec.wait("close", T, |l| {
            (l.closes.len() == round as usize + 1).then_some(())
        });
        broadcast_range(&srv, base + 9, base + 9);
    }
    let mut s = Sub::open(port, "/", OFFER);
    rec.wait("connect", T, |l| l.connects.get(20).copied());
    broadcast_range(&srv, 50_001, 50_003);
    for i in 50_001..=50_003 {
        assert_eq!(s.message(), (true, line(i)));
    }
    srv.shutdown(Duration::from_secs(1));
}

/// Bytes that do not compress (a deflate lane as large as the plain one).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

#[test]
fn retained_history_counts_the_compressed_lane_against_its_byte_bound() {
    const BOUND: usize = 100_000;
    let (srv, _rec) = replay_server(1_000_000, BOUND, |_| {});
    let mut s = Sub::open(srv.local_port(), "/", OFFER);
    assert!(s.compressed());
    let n = 1000u64;
    for i in 0..n {
        srv.broadcast(&noise(i, 1000), MsgKind::Binary).unwrap();
    }
    // The deflate subscriber writes all of them (both lanes are then history).
    for i in 0..n {
        let (_, p) = s.data();
        assert_eq!(p, noise(i, 1000));
    }
    let deadline = Instant::now() + T;
    loop {
        let b = srv.stats().buffered_bytes as usize;
        if b > 0 && b <= BOUND {
            break;
        }
        assert!(Instant::now() < deadline, "history not trimmed: {b}");
        thread::sleep(Duration::from_millis(10));
    }
    // What is held is what is counted: with two lanes of about 1 KiB a message, the bound
    // holds about 50 of them (plus a segment), not the 100 a count of one lane would keep.
    let mut r = Sub::open(srv.local_port(), "/?since=0", "");
    let (first, missed) = r.metadata();
    assert_eq!(first, missed + 1);
    let held = n - missed;
    assert!((40..=75).contains(&held), "{held} broadcasts held");
    srv.shutdown(Duration::from_secs(1));
}

// ----- all three on one server context -----

#[test]
fn acks_replay_and_deflate_on_one_server_and_the_three_headers_of_its_101() {
    let (srv, srec) = replay_server(10_000, 64 << 20, |c| c.acks = AckMode::Auto);
    let port = srv.local_port();
    broadcast_range(&srv, 1, 10);
    // A subscriber offering all three: one 101 head, each header once and well-formed.
    let mut s = Sub::open(port, "/?since=4", &format!("{OFFER}WS-API-Ack: 1\r\n"));
    let head = s.head.clone();
    assert!(
        head.ends_with("\r\n\r\n") && !head.ends_with("\r\n\r\n\r\n"),
        "{head:?}"
    );
    let lines: Vec<&str> = head.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(lines[0], "HTTP/1.1 101 Switching Protocols", "{head:?}");
    for l in &lines[1..] {
        let (name, value) = l
            .split_once(": ")
            .unwrap_or_else(|| panic!("{l:?} in {head:?}"));
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "{l:?}"
        );
        assert!(!value.is_empty() && value.trim() == value, "{l:?}");
    }
    let count = |name: &str| {
        lines
            .iter()
            .filter(|l| {
                l.split_once(':')
                    .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .count()
    };
    for name in [
        "WS-API-Seq",
        "WS-API-Ack",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Accept",
    ] {
        assert_eq!(count(name), 1, "{name} in {head:?}");
    }
    assert_eq!(s.header("WS-API-Seq").as_deref(), Some("11"));
    assert_eq!(s.header("WS-API-Ack").as_deref(), Some("1"));
    assert!(s.compressed(), "{head}");
    assert_eq!(s.metadata(), (5, 0));
    for i in 5..=10 {
        assert_eq!(
            s.message(),
            (false, line(i)),
            "history written before it: plain"
        );
    }
    // Our client with acknowledgements and compression streams to the same server, which
    // also broadcasts to both (a server connection is a subscriber too).
    let (cli, crec) = deflate_ack_client(port, 64);
    crec.wait("connect", T, |l| l.connects.first().copied());
    let n = 3000;
    send_lines(&cli, 1, n);
    broadcast_range(&srv, 11, 200);
    crec.wait("every message acknowledged", T, |l| {
        l.acked.last().filter(|a| a.1 == n).map(|_| ())
    });
    for i in 11..=200 {
        assert_eq!(s.message().1, line(i));
    }
    crec.wait("the broadcasts", T, |l| {
        (l.messages.len() == 190).then_some(())
    });
    crec.with(|l| {
        for (m, i) in l.messages.iter().zip(11..) {
            assert_eq!(m.1, line(i).as_bytes());
        }
    });
    srec.with(|l| {
        let got: Vec<u64> = l.messages.iter().map(|m| number_of(&m.1)).collect();
        assert_eq!(got, (1..=n).collect::<Vec<_>>());
    });
    let st = cli.stats();
    assert_eq!((st.messages_acked_seq, st.messages_resent), (n, 0));
    assert_eq!(srv.stats().connections_compressed, 2);
    assert_eq!(cli.shutdown(Duration::from_secs(5)), 0);
    srv.shutdown(Duration::from_secs(1));
}

// ----- Python's websockets as a deflate subscriber -----

fn python() -> Command {
    Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
}

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs python3 with websockets in $PYTHON"]
fn python_deflate_subscriber_replays_next_to_a_plain_one_during_fast_broadcasts() {
    const N: u64 = 20_000;
    const HISTORY: u64 = 1000;
    let (srv, _rec) = replay_server(N, 64 << 20, |_| {});
    broadcast_range(&srv, 1, HISTORY);
    let port = srv.local_port();
    let mut child = Child(
        python()
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/replay_peer.py"))
            .arg(format!("ws://127.0.0.1:{port}/?since=100"))
            .arg(N.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3"),
    );
    let mut out = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let mut b = [0u8; 1];
        // The first line says it is subscribed; the rest comes at the end.
        while out.read(&mut b).unwrap_or(0) == 1 {
            text.push(b[0] as char);
            if b[0] == b'\n' {
                let _ = tx.send(std::mem::take(&mut text));
            }
        }
        let _ = tx.send(text);
    });
    let hello = rx.recv_timeout(T).expect("python subscribed");
    assert!(
        hello.starts_with("extensions permessage-deflate"),
        "{hello}"
    );
    let mut plain = Sub::open(port, "/?since=0", "");
    broadcast_range(&srv, HISTORY + 1, N);
    assert_eq!(plain.metadata(), (1, 0));
    for i in 1..=N {
        assert_eq!(plain.message(), (false, line(i)));
    }
    let result = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("python finished");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "python subscriber failed: {result}");
    assert_eq!(result.trim(), format!("ok 101 {N}"), "{result}");
    srv.shutdown(Duration::from_secs(1));
}
