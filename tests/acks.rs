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
fn an_ack_client_against_a_plain_server_counts_a_written_message_as_acknowledged() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = ack_client(srv.local_port(), |c| c.report_sent = true);
    let last = send_numbered(&cli, 100, 0);
    srec.wait("100 messages", T, |l| {
        (l.messages.len() == 100).then_some(())
    });
    crec.wait("on_sent 100", T, |l| {
        l.sent.last().filter(|s| s.1 == last).map(|_| ())
    });
    // Writing is all the acknowledgement such a server gives: on_acked follows on_sent, so an
    // application waiting for it (the syslog-ng destination) is not stalled.
    crec.wait("on_acked 100", T, |l| {
        l.acked.last().filter(|a| a.1 == last).map(|_| ())
    });
    assert_eq!(cli.stats().messages_acked_seq, last);
    assert_eq!(cli.stats().messages_resent, 0);
    assert!(crec.with(|l| l.errors.is_empty()));
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

/// Reads the client's frames until `n` data messages came; answers their numbers.
/// Reads one frame sent by the client (masked): (opcode, payload).
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let (b0, p) = common::raw_frame::read_client_frame(s);
    (b0 & 0x0f, p)
}

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
    // The client reads nothing more after a protocol error: our EOF ends it at once.
    drop(s);
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
    wait_until("the resends counted", T, || {
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
    dropped_mid_stream(false);
}

#[test]
fn over_tls_too() {
    dropped_mid_stream(true);
}

/// TLS settings for a server or client (certificates made at test time), or none.
fn tls_on(c: &mut ws_api::engine::Config, tls: bool) {
    if tls {
        c.tls = true;
        if c.mode == ws_api::engine::Mode::Server {
            c.cert = common::certs::cert("server.pem");
            c.key = common::certs::cert("server.key");
        } else {
            c.cacert = common::certs::cert("ca.pem");
        }
    }
}

/// A server streamed to, dropped (its context destroyed with no drain) mid-stream and started
/// again on the same port: every message arrives at least once, and exactly the window is
/// received twice. The first server acknowledges only up to 400 (MANUAL), so the client stops
/// at 400 + its window of 512 and the drop is mid-stream whatever the speed.
fn dropped_mid_stream(tls: bool) {
    let (srv, srec) = server(|c| {
        c.acks = AckMode::Manual;
        tls_on(c, tls);
    });
    let port = srv.local_port();
    let n = 20_000u64;
    let (cli, crec) = ack_client(port, |c| {
        c.queue_capacity = n as usize;
        c.ack_window = 512;
        tls_on(c, tls);
    });
    send_numbered(&cli, n, 100);
    srec.wait("a full window", T, |l| {
        (l.messages.len() == 512).then_some(())
    });
    let conn = srec.with(|l| l.connects[0]);
    srv.acknowledge(conn, 400).unwrap();
    srec.wait("the window moved", T, |l| {
        (l.messages.len() == 912).then_some(())
    });
    crec.wait("on_acked 400", T, |l| {
        l.acked.last().filter(|a| a.1 == 400).map(|_| ())
    });
    drop(srv);
    let first: Vec<u64> = srec.with(|l| l.messages.iter().map(|m| number_of(&m.1)).collect());
    assert_eq!(first, (1..=912).collect::<Vec<_>>());
    let (srv2, srec2) = server(|c| {
        c.acks = AckMode::Auto;
        c.port = port;
        tls_on(c, tls);
    });
    crec.wait("every message acknowledged", Duration::from_secs(60), |l| {
        l.acked.last().filter(|a| a.1 == n).map(|_| ())
    });
    let second: Vec<u64> = srec2.with(|l| l.messages.iter().map(|m| number_of(&m.1)).collect());
    assert_eq!(
        second,
        (401..=n).collect::<Vec<_>>(),
        "the unacknowledged first, in order"
    );
    let st = cli.stats();
    assert_eq!(st.messages_resent, 512, "{st:?}");
    assert_eq!(st.messages_sent, n + 512, "{st:?}");
    assert_eq!(st.messages_acked_seq, n);
    drop(srv2);
}

#[test]
fn without_negotiation_an_ack_pong_is_an_ordinary_pong() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    // An ack client whose server did not accept, and a client that did not offer.
    let (acli, arec) = ack_client(l.local_addr().unwrap().port(), |_| {});
    let (_, mut a) = raw_accept(&l, false);
    let (pcli, prec) = client(l.local_addr().unwrap().port(), |_| {});
    let (_, mut p) = raw_accept(&l, true);
    // The ack client counts what it wrote as acknowledged (its server gives nothing more);
    // the plain client has no acknowledgements at all. Neither takes a pong for one.
    for (cli, s, acked) in [(&acli, &mut a, 2), (&pcli, &mut p, 0)] {
        send_numbered(cli, 2, 0);
        assert_eq!(read_data(s, 2), vec![1, 2]);
        pong(s, b"ack 999");
        pong(s, b"ack x");
        // A ping answered proves the pongs were read.
        s.write_all(&[0x89, 1, b'p']).unwrap();
        let (op, _) = read_frame(s);
        assert_eq!(op, 0xa);
        assert_eq!(cli.stats().messages_acked_seq, acked);
    }
    assert!(arec.with(|l| l.errors.is_empty() && l.acked.iter().all(|a| a.1 <= 2)));
    assert!(prec.with(|l| l.errors.is_empty() && l.acked.is_empty()));
}

#[test]
fn manual_dispatch_acknowledges_once_the_application_ran_on_receive() {
    let (srv, srec) = server(|c| {
        c.acks = AckMode::Auto;
        c.dispatch = ws_api::engine::Dispatch::Manual;
    });
    let (cli, crec) = ack_client(srv.local_port(), |c| c.ack_window = 4);
    send_numbered(&cli, 10, 0);
    // One event at a time: the connect, then the messages, each numbered as it is delivered.
    let deadline = Instant::now() + T;
    let mut delivered = 0;
    while delivered < 10 {
        assert!(Instant::now() < deadline, "delivered {delivered}");
        srv.dispatch(1).unwrap();
        let got = srec.with(|l| l.messages.len());
        if got > delivered {
            delivered = got;
            let conn = srec.with(|l| l.connects[0]);
            assert_eq!(srv.received_seq(conn), delivered as u64);
        }
    }
    crec.wait("on_acked 10", T, |l| {
        l.acked.last().filter(|a| a.1 == 10).map(|_| ())
    });
}

#[test]
fn a_client_under_manual_dispatch_gets_on_acked_from_dispatch() {
    let (srv, _srec) = ack_server(AckMode::Auto);
    let (cli, crec) = ack_client(srv.local_port(), |c| {
        c.dispatch = ws_api::engine::Dispatch::Manual;
    });
    send_numbered(&cli, 10, 0);
    let deadline = Instant::now() + T;
    while acked_upto(&crec) < 10 {
        assert!(Instant::now() < deadline, "{:?}", cli.stats());
        // Until the event fd is readable (or 100 ms), then whatever waits.
        let mut p = [libc::pollfd {
            fd: cli.event_fd().unwrap(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(p.as_mut_ptr(), 1, 100) };
        cli.dispatch(0).unwrap();
    }
    assert_eq!(cli.stats().messages_acked_seq, 10);
}

#[test]
fn the_kept_bytes_count_in_the_budget_and_destroy_counts_the_unacknowledged_as_unsent() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, _crec) = ack_client(l.local_addr().unwrap().port(), |c| c.ack_window = 8);
    let (_, mut s) = raw_accept(&l, true);
    send_numbered(&cli, 8, 1000);
    assert_eq!(read_data(&mut s, 8), (1..=8).collect::<Vec<_>>());
    wait_until("the window in buffered_bytes", T, || {
        cli.stats().buffered_bytes >= 8 * 1008
    });
    pong(&mut s, b"ack 3");
    wait_until("the acknowledged ones released", T, || {
        let b = cli.stats().buffered_bytes;
        (5 * 1008..6 * 1008 + 4096).contains(&b)
    });
    // The drain waits for acknowledgements that never come; the 5 count as unsent.
    assert_eq!(cli.shutdown(Duration::from_millis(300)), 5);
}

#[test]
fn the_window_takes_at_most_half_the_budget_and_a_larger_message_still_goes() {
    let budget = 64 * 1024;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = ack_client(l.local_addr().unwrap().port(), |c| {
        c.max_buffered_bytes = budget;
    });
    let (_, mut s) = raw_accept(&l, true);
    // 10,000-byte messages: the window is full at 32 KiB, after 4 of them.
    send_numbered(&cli, 6, 10_000 - 8);
    assert_eq!(read_data(&mut s, 4), vec![1, 2, 3, 4]);
    s.write_all(&[0x89, 1, b'p']).unwrap();
    assert_eq!(read_frame(&mut s).0, 0xa, "a pong, no fifth message");
    pong(&mut s, b"ack 4");
    assert_eq!(read_data(&mut s, 2), vec![5, 6]);
    pong(&mut s, b"ack 6");
    crec.wait("on_acked 6", T, |l| {
        l.acked.last().filter(|a| a.1 == 6).map(|_| ())
    });
    drop(s);
    // A message above the whole budget goes alone in the window, and the budget (which
    // guards the input) does not close the connection that must send it.
    let (srv, srec) = ack_server(AckMode::Auto);
    let (big, brec) = ack_client(srv.local_port(), |c| c.max_buffered_bytes = budget);
    let seq = big
        .send_seq(0, &numbered(1, 200_000), MsgKind::Binary)
        .unwrap();
    brec.wait("the big one acknowledged", T, |l| {
        l.acked.last().filter(|a| a.1 == seq).map(|_| ())
    });
    assert_eq!(srec.with(|l| l.messages.len()), 1);
    assert!(brec.with(|l| l.errors.is_empty()), "no 1008");
    assert!(
        crec.with(|l| l.errors.len() <= 1),
        "only the raw server's EOF"
    );
}

#[test]
fn the_drain_waits_for_the_acknowledgements() {
    let (srv, srec) = ack_server(AckMode::Manual);
    let (cli, _crec) = ack_client(srv.local_port(), |_| {});
    send_numbered(&cli, 20, 0);
    srec.wait("20 messages", T, |l| (l.messages.len() == 20).then_some(()));
    let conn = srec.with(|l| l.connects[0]);
    std::thread::scope(|sc| {
        let drain = sc.spawn(|| cli.shutdown(Duration::from_secs(10)));
        // The drain began once calls are refused (rx_flow, which changes nothing here); only
        // then does the server acknowledge.
        wait_until("the drain to begin", T, || cli.rx_flow(0, true).is_err());
        srv.acknowledge(conn, 20).unwrap();
        assert_eq!(drain.join().unwrap(), 0, "nothing left unacknowledged");
    });
    assert_eq!(cli.stats().messages_acked_seq, 20);
}

// ----- a third-party peer: Python's `websockets` (scripts/check.d/46-acks-interop.sh) -----

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::peer_process::{free_port, wait_listening};

/// A fresh directory for this test's files, under cargo's scratch directory.
fn scratch_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("acks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn python() -> Command {
    Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
}

/// The Python server of docs/acks.md, exactly as the page shows it (the code block after the
/// `<!-- example: ack_server.py -->` marker), written to a file for python to run.
fn docs_example(dir: &std::path::Path) -> PathBuf {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/acks.md"),
    )
    .unwrap();
    let after = page
        .split_once("<!-- example: ack_server.py -->")
        .expect("docs/acks.md has the example marker")
        .1;
    let code = after
        .split_once("```python\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("a python code block follows the marker")
        .0;
    let path = dir.join("ack_server.py");
    std::fs::write(&path, code).unwrap();
    path
}

/// A plain `websockets` server that knows nothing of acknowledgements: prints each message.
const PLAIN_SERVER: &str = r#"
import asyncio, sys
from websockets.asyncio.server import serve
async def handler(ws):
    async for message in ws:
        print(message, flush=True)
async def main(port):
    async with serve(handler, "127.0.0.1", port):
        await asyncio.Future()
asyncio.run(main(int(sys.argv[1])))
"#;

/// A Python server process; the lines it printed (the messages it stored) are collected by a
/// thread. Killed (SIGKILL) when dropped.
struct PyServer {
    child: std::process::Child,
    lines: Watch<Vec<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl PyServer {
    fn start(script: &std::path::Path, port: u16) -> PyServer {
        let mut child = python()
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python3");
        let lines: Watch<Vec<String>> = Watch::default();
        let out = child.stdout.take().unwrap();
        let l = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l.update(|v| v.push(line));
            }
        });
        let err = Arc::new(std::sync::Mutex::new(child.stderr.take()));
        wait_listening(&mut child, "python websockets server", port, T, move || {
            let mut s = String::new();
            if let Some(e) = err.lock().unwrap().as_mut() {
                let _ = e.read_to_string(&mut s);
            }
            s
        });
        PyServer {
            child,
            lines,
            reader: Some(reader),
        }
    }

    fn numbers(&self) -> Vec<u64> {
        Self::parse(&self.lines)
    }

    fn parse(lines: &Watch<Vec<String>>) -> Vec<u64> {
        lines.with(|v| {
            v.iter()
                .map(|l| l.strip_prefix("m ").unwrap().parse().unwrap())
                .collect()
        })
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Every line it printed is collected once its pipe reached EOF.
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn send_text(cli: &Context, from: u64, to: u64) {
    for i in from..=to {
        let seq = cli
            .send_seq(0, format!("m {i}").as_bytes(), MsgKind::Text)
            .unwrap();
        assert_eq!(seq, i);
    }
}

#[test]
#[ignore = "needs python3 with websockets; run by scripts/check.d/46-acks-interop.sh"]
fn python_example_server_from_the_docs() {
    docs_server_killed_mid_stream("docs", 0);
}

/// The same with permessage-deflate (which websockets accepts by default, context takeover
/// both ways, and inflates strictly): what is resent after the kill is compressed again by
/// the new connection's fresh compressor.
#[test]
#[ignore = "needs python3 with websockets; run by scripts/check.d/46-acks-interop.sh"]
fn python_example_server_from_the_docs_with_compression() {
    docs_server_killed_mid_stream("docs-deflate", 1);
}

/// The Python server of docs/acks.md, killed (SIGKILL) mid-stream and started again while our
/// client (at compression `level`, 0 = off) streams: every message arrives at least once.
fn docs_server_killed_mid_stream(name: &str, level: u32) {
    let dir = scratch_dir(name);
    let script = docs_example(&dir);
    let port = free_port();
    let py = PyServer::start(&script, port);
    let n = 3000u64;
    let window = 256;
    let (cli, crec) = ack_client(port, |c| {
        c.queue_capacity = n as usize;
        c.ack_window = window;
        c.compression = level;
    });
    send_text(&cli, 1, n);
    py.lines.wait("part of the stream stored", T, |v| {
        (v.len() >= 500).then_some(())
    });
    // SIGKILL mid-stream, then the same server again on the same port.
    let first_lines = py.lines.clone();
    drop(py);
    let py2 = PyServer::start(&script, port);
    crec.wait("every message acknowledged", Duration::from_secs(60), |l| {
        l.acked.last().filter(|a| a.1 == n).map(|_| ())
    });
    // The server printed the last message before acknowledging it; our reader may lag.
    let last = format!("m {n}");
    py2.lines.wait("the last line read", T, |v| {
        (v.last() == Some(&last)).then_some(())
    });
    let mut seen = vec![0u32; n as usize + 1];
    let first = first_lines.with(|v| v.len());
    for x in PyServer::parse(&first_lines).iter().chain(&py2.numbers()) {
        seen[*x as usize] += 1;
    }
    let missing: Vec<u64> = (1..=n).filter(|&i| seen[i as usize] == 0).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert!(first < n as usize, "the first run was killed mid-stream");
    let st = cli.stats();
    assert!(st.messages_resent <= window as u64, "{st:?}");
    assert_eq!(st.messages_acked_seq, n);
    assert_eq!(st.connections_compressed, u64::from(level > 0), "{st:?}");
    assert!(crec.with(|l| l
        .errors
        .iter()
        .all(|e| e.1.kind == ws_api::engine::ErrorKind::Io)));
}

#[test]
#[ignore = "needs python3 with websockets; run by scripts/check.d/46-acks-interop.sh"]
fn python_servers_with_and_without_acks_against_clients_with_and_without() {
    let dir = scratch_dir("mismatch");
    // Our ack client, a plain websockets server: works as without acks, a written message
    // counting as acknowledged (on_acked follows on_sent).
    let plain = dir.join("plain_server.py");
    std::fs::write(&plain, PLAIN_SERVER).unwrap();
    let port = free_port();
    let py = PyServer::start(&plain, port);
    let (cli, crec) = ack_client(port, |c| c.report_sent = true);
    send_text(&cli, 1, 100);
    py.lines
        .wait("100 messages", T, |v| (v.len() == 100).then_some(()));
    crec.wait("on_sent 100", T, |l| {
        l.sent.last().filter(|s| s.1 == 100).map(|_| ())
    });
    crec.wait("on_acked 100", T, |l| {
        l.acked.last().filter(|a| a.1 == 100).map(|_| ())
    });
    assert_eq!(cli.stats().messages_acked_seq, 100);
    assert_eq!(cli.stats().messages_resent, 0);
    assert!(crec.with(|l| l.errors.is_empty()));
    assert_eq!(cli.shutdown(Duration::from_secs(5)), 0);
    // Our plain client, the ack server of the docs: it acknowledges nothing, all arrives.
    let port = free_port();
    let py = PyServer::start(&docs_example(&dir), port);
    let (cli, crec) = client(port, |_| {});
    send_text(&cli, 1, 100);
    py.lines
        .wait("100 messages", T, |v| (v.len() == 100).then_some(()));
    assert_eq!(py.numbers(), (1..=100).collect::<Vec<_>>());
    assert!(crec.with(|l| l.errors.is_empty()));
}
