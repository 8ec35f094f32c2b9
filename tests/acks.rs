//! End-to-end acknowledgements (docs/acks.md) with real sockets: the handshake negotiation and
//! its mismatches, the acknowledgement flow (AUTO and MANUAL), the window as backpressure,
//! resending after a reconnect with the same numbers, a server dropped mid-stream and
//! restarted (every message arrives at least once), and hostile acknowledgements.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use ws_api::engine::{AckMode, Context, MsgKind};

/// A message carrying its sequence number.
fn numbered(seq: u64, pad: usize) -> Vec<u8> {
    let mut m = seq.to_be_bytes().to_vec();
    m.resize(8 + pad, b'x');
    m
}

fn number_of(m: &[u8]) -> u64 {
    u64::from_be_bytes(m[..8].try_into().unwrap())
}

/// Sends `n` numbered messages; answers the last sequence number.
fn send_numbered(cli: &Context, n: u64, pad: usize) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        let want = last + 1;
        last = cli
            .send_seq(0, &numbered(want, pad), MsgKind::Binary)
            .unwrap();
        assert_eq!(last, want);
    }
    last
}

/// Polls `f` until it holds, failing the test after `T` (for counters, which no callback
/// announces).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn acked_upto(rec: &Recorder) -> u64 {
    rec.with(|l| {
        for w in l.acked.windows(2) {
            assert!(w[0].1 < w[1].1, "on_acked went back: {:?}", l.acked);
        }
        l.acked.last().map_or(0, |a| a.1)
    })
}

fn ack_server(mode: AckMode) -> (Context, Recorder) {
    server(|c| c.acks = mode)
}

fn ack_client(port: u16, f: impl FnOnce(&mut ws_api::engine::Config)) -> (Context, Recorder) {
    client(port, |c| {
        c.acks = AckMode::Auto;
        c.report_acked = true;
        f(c);
    })
}

#[test]
fn auto_acknowledges_everything_received_and_on_acked_reaches_the_last_number() {
    let (srv, srec) = ack_server(AckMode::Auto);
    let (cli, crec) = ack_client(srv.local_port(), |_| {});
    let last = send_numbered(&cli, 5000, 20);
    crec.wait("on_acked reaching the last message", T, |l| {
        l.acked.last().filter(|a| a.1 == last).map(|_| ())
    });
    assert_eq!(acked_upto(&crec), last);
    let st = cli.stats();
    assert_eq!(st.messages_acked_seq, last);
    assert_eq!(st.messages_resent, 0);
    let got = srec.with(|l| {
        l.messages
            .iter()
            .map(|m| number_of(&m.1))
            .collect::<Vec<_>>()
    });
    assert_eq!(got, (1..=last).collect::<Vec<_>>());
    let conn = srec.with(|l| l.connects[0]);
    assert_eq!(srv.received_seq(conn), last);
}

#[test]
fn manual_mode_acknowledges_only_what_the_application_says() {
    let (srv, srec) = ack_server(AckMode::Manual);
    let (cli, crec) = ack_client(srv.local_port(), |_| {});
    let last = send_numbered(&cli, 10, 0);
    srec.wait("10 messages", T, |l| (l.messages.len() == 10).then_some(()));
    let conn = srec.with(|l| l.connects[0]);
    assert_eq!(srv.received_seq(conn), 10);
    let err = srv.acknowledge(conn, 11).unwrap_err();
    assert_eq!(
        err.kind,
        ws_api::engine::ErrorKind::InvalidArgument,
        "{err}"
    );
    assert!(err.message.contains("up to 10"), "{err}");
    assert_eq!(cli.stats().messages_acked_seq, 0);
    srv.acknowledge(conn, 4).unwrap();
    crec.wait("on_acked 4", T, |l| {
        l.acked.last().filter(|a| a.1 == 4).map(|_| ())
    });
    srv.acknowledge(0, 0).unwrap();
    srv.acknowledge(conn, 3).unwrap();
    srv.acknowledge(conn, last).unwrap();
    crec.wait("on_acked 10", T, |l| {
        l.acked.last().filter(|a| a.1 == 10).map(|_| ())
    });
    assert_eq!(cli.stats().messages_acked_seq, 10);
}

#[test]
fn an_ack_client_against_a_plain_server_works_as_without_acks() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = ack_client(srv.local_port(), |c| c.report_sent = true);
    let last = send_numbered(&cli, 100, 0);
    srec.wait("100 messages", T, |l| {
        (l.messages.len() == 100).then_some(())
    });
    crec.wait("on_sent 100", T, |l| {
        l.sent.last().filter(|s| s.1 == last).map(|_| ())
    });
    assert_eq!(cli.stats().messages_acked_seq, 0);
    assert!(crec.with(|l| l.acked.is_empty() && l.errors.is_empty()));
    // Nothing is kept for acknowledgement: the drain does not wait for one.
    assert_eq!(cli.shutdown(Duration::from_secs(5)), 0);
}

#[test]
fn a_plain_client_against_an_ack_server_gets_no_acknowledgement() {
    let (srv, srec) = ack_server(AckMode::Auto);
    let (cli, crec) = client(srv.local_port(), |_| {});
    send_numbered(&cli, 100, 0);
    srec.wait("100 messages", T, |l| {
        (l.messages.len() == 100).then_some(())
    });
    let conn = srec.with(|l| l.connects[0]);
    assert_eq!(srv.received_seq(conn), 0, "not negotiated: not numbered");
    assert!(srv.acknowledge(conn, 1).is_err());
    srv.acknowledge(conn, 0).unwrap();
    assert!(crec.with(|l| l.errors.is_empty()));
    assert_eq!(cli.stats().messages_acked_seq, 0);
}

/// Accepts one client with a raw socket; answers its request head and the socket. `ack`: the
/// 101 accepts acknowledgements.
fn raw_accept(l: &TcpListener, ack: bool) -> (String, TcpStream) {
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .trim()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let extra = if ack { "WS-API-Ack: 1\r\n" } else { "" };
    write!(
        s,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    )
    .unwrap();
    (text, s)
}

/// Reads one frame sent by the client (masked): (opcode, payload).
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut e = [0u8; 2];
            s.read_exact(&mut e).unwrap();
            u16::from_be_bytes(e) as usize
        }
        127 => {
            let mut e = [0u8; 8];
            s.read_exact(&mut e).unwrap();
            u64::from_be_bytes(e) as usize
        }
        l => l as usize,
    };
    let mut mask = [0u8; 4];
    s.read_exact(&mut mask).unwrap();
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    for (k, b) in p.iter_mut().enumerate() {
        *b ^= mask[k % 4];
    }
    (h[0] & 0x0f, p)
}

/// Reads the client's frames until `n` data messages came; answers their numbers.
fn read_data(s: &mut TcpStream, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    while out.len() < n {
        let (op, p) = read_frame(s);
        if op == 0x2 {
            out.push(number_of(&p));
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

#[test]
fn the_client_offers_acks_in_its_request_and_only_when_enabled() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (_cli, _crec) = ack_client(port, |_| {});
    let (head, _s) = raw_accept(&l, false);
    assert!(head.contains("\r\nWS-API-Ack: 1\r\n"), "{head}");
    let (_plain, _prec) = client(port, |_| {});
    let (head, _s) = raw_accept(&l, false);
    assert!(!head.to_ascii_lowercase().contains("ws-api-ack"), "{head}");
}

#[test]
fn the_window_stops_writing_until_an_acknowledgement_and_the_queue_backs_up() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = ack_client(l.local_addr().unwrap().port(), |c| {
        c.ack_window = 8;
        c.queue_capacity = 20;
    });
    let (_, mut s) = raw_accept(&l, true);
    send_numbered(&cli, 20, 0);
    assert_eq!(read_data(&mut s, 8), (1..=8).collect::<Vec<_>>());
    // The window is full: the client writes nothing more; a ping of ours, answered after any
    // data the client would have written, proves that nothing else came.
    s.write_all(&[0x89, 1, b'p']).unwrap();
    let (op, p) = read_frame(&mut s);
    assert_eq!((op, p.as_slice()), (0xa, &b"p"[..]), "a pong, no data");
    assert_eq!(cli.stats().messages_queued, 12);
    // The 8 in the window left the queue: 8 more fit, then it is full.
    for i in 21..=28 {
        assert_eq!(
            cli.send_seq(0, &numbered(i, 0), MsgKind::Binary).unwrap(),
            i
        );
    }
    let e = cli.send(0, b"more", MsgKind::Binary).unwrap_err();
    assert_eq!(e.kind, ws_api::engine::ErrorKind::QueueFull);
    pong(&mut s, b"ack 3");
    assert_eq!(read_data(&mut s, 3), vec![9, 10, 11]);
    crec.wait("on_acked 3", T, |l| {
        l.acked.last().filter(|a| a.1 == 3).map(|_| ())
    });
    pong(&mut s, b"ack 20");
    let e = crec.wait("the bad ack refused", T, |l| l.errors.first().cloned());
    assert!(e.1.message.contains("never written"), "{e:?}");
}

/// A client with window 8 talking to a raw server; answers the error the client reports after
/// `payload` arrives as a pong once 3 messages were written and 2 acknowledged.
fn hostile_ack(payload: &[u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = ack_client(l.local_addr().unwrap().port(), |_| {});
    let (_, mut s) = raw_accept(&l, true);
    send_numbered(&cli, 3, 0);
    assert_eq!(read_data(&mut s, 3), vec![1, 2, 3]);
    pong(&mut s, b"ack 2");
    crec.wait("on_acked 2", T, |l| {
        l.acked.last().filter(|a| a.1 == 2).map(|_| ())
    });
    pong(&mut s, payload);
    // The client closes with 1002.
    let deadline = Instant::now() + T;
    loop {
        assert!(Instant::now() < deadline);
        let (op, p) = read_frame(&mut s);
        if op == 0x8 {
            assert_eq!(u16::from_be_bytes([p[0], p[1]]), 1002, "{p:?}");
            break;
        }
    }
    let e = crec.wait("on_error", T, |l| l.errors.first().cloned());
    assert_eq!(cli.stats().messages_acked_seq, 2, "nothing more released");
    e.1.message
}

#[test]
fn hostile_acknowledgements_close_with_1002() {
    assert!(hostile_ack(b"ack 4").contains("never written"));
    assert!(hostile_ack(b"ack 18446744073709551615").contains("never written"));
    assert!(hostile_ack(b"ack 99999999999999999999999").contains("malformed"));
    assert!(hostile_ack(b"ack 1").contains("backwards"));
    assert!(hostile_ack(b"ack x").contains("malformed"));
    assert!(hostile_ack(b"ack ").contains("malformed"));
}

#[test]
fn an_ordinary_pong_is_no_acknowledgement() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = ack_client(l.local_addr().unwrap().port(), |_| {});
    let (_, mut s) = raw_accept(&l, true);
    send_numbered(&cli, 2, 0);
    assert_eq!(read_data(&mut s, 2), vec![1, 2]);
    pong(&mut s, b"acknowledged");
    pong(&mut s, b"");
    pong(&mut s, b"ack 2");
    crec.wait("on_acked 2", T, |l| {
        l.acked.last().filter(|a| a.1 == 2).map(|_| ())
    });
    assert!(crec.with(|l| l.errors.is_empty()));
}

#[test]
fn a_reconnect_resends_the_unacknowledged_with_their_numbers() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = ack_client(l.local_addr().unwrap().port(), |c| c.ack_window = 100);
    let (_, mut s) = raw_accept(&l, true);
    send_numbered(&cli, 10, 0);
    assert_eq!(read_data(&mut s, 10), (1..=10).collect::<Vec<_>>());
    pong(&mut s, b"ack 4");
    crec.wait("on_acked 4", T, |l| {
        l.acked.last().filter(|a| a.1 == 4).map(|_| ())
    });
    drop(s);
    // Queued while the client reconnects.
    for i in 11..=12 {
        assert_eq!(
            cli.send_seq(0, &numbered(i, 0), MsgKind::Binary).unwrap(),
            i
        );
    }
    let (_, mut s) = raw_accept(&l, true);
    assert_eq!(read_data(&mut s, 8), (5..=12).collect::<Vec<_>>());
    // 5..10 are resends; 11 and 12 too if the first connection wrote them before it saw the
    // server go. Counted by the write that sent them, which may finish just after the bytes
    // arrived: every write is counted once, resends included.
    eventually("the resends counted", || {
        let st = cli.stats();
        st.messages_sent == 12 + st.messages_resent && st.messages_resent >= 6
    });
    assert!(cli.stats().messages_resent <= 8, "{:?}", cli.stats());
    // The new connection numbers from 1: "ack 8" covers 5..12.
    pong(&mut s, b"ack 8");
    crec.wait("on_acked 12", T, |l| {
        l.acked.last().filter(|a| a.1 == 12).map(|_| ())
    });
    assert_eq!(cli.stats().messages_acked_seq, 12);
}

#[test]
fn a_server_dropped_mid_stream_and_restarted_receives_every_message_at_least_once() {
    let (srv, srec) = ack_server(AckMode::Auto);
    let port = srv.local_port();
    let n = 20_000u64;
    let (cli, crec) = ack_client(port, |c| {
        c.queue_capacity = n as usize;
        c.ack_window = 512;
    });
    send_numbered(&cli, n, 100);
    srec.wait("part of the stream", T, |l| {
        (l.messages.len() > 1000).then_some(())
    });
    drop(srv);
    let first: Vec<u64> = srec.with(|l| l.messages.iter().map(|m| number_of(&m.1)).collect());
    let (srv2, srec2) = server(|c| {
        c.acks = AckMode::Auto;
        c.port = port;
    });
    crec.wait("every message acknowledged", Duration::from_secs(60), |l| {
        l.acked.last().filter(|a| a.1 == n).map(|_| ())
    });
    let second: Vec<u64> = srec2.with(|l| l.messages.iter().map(|m| number_of(&m.1)).collect());
    let mut seen = vec![0u32; n as usize + 1];
    for x in first.iter().chain(second.iter()) {
        seen[*x as usize] += 1;
    }
    let missing: Vec<usize> = (1..=n as usize).filter(|&i| seen[i] == 0).collect();
    assert!(
        missing.is_empty(),
        "lost: {:?}",
        &missing[..missing.len().min(20)]
    );
    let dups = (first.len() + second.len()) as u64 - n;
    let st = cli.stats();
    assert!(dups <= 512, "duplicates {dups} bounded by the window");
    assert!(st.messages_resent >= dups, "{st:?} dups {dups}");
    drop(srv2);
}
