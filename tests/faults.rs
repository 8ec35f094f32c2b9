//! Fault tests: hostile input, dead and slow peers, resets, limits, keepalive, destroy under
//! load. Hostile peers are raw `TcpStream`s (tests/common_faults), so they can break every rule.
//! Each test asserts exact counts of what the engine reported.

mod common;
mod common_faults;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use common_faults::*;
use ws_api::engine::{Config, Context, ErrorKind, Mode, MsgKind, SlowPolicy};

fn no_ping(c: &mut Config) {
    c.ping_interval = Duration::ZERO;
}

/// The id of the `n`th connection (1-based) the server reported.
fn nth_connect(rec: &Recorder, n: usize) -> u64 {
    rec.wait("connect", T, |l| l.connects.get(n - 1).copied())
}

fn close_code_of(rec: &Recorder, conn: u64) -> u16 {
    rec.wait("on_close", T, |l| {
        l.closes.iter().find(|c| c.0 == conn).map(|c| c.1)
    })
}

/// Every kind of bad input gets a close frame with the RFC 6455 code, the TCP connection ends,
/// on_close reports that code, and a well-behaved client on the same server is served
/// throughout, message for message.
#[test]
fn hostile_input_is_closed_with_the_right_code_while_others_are_served() {
    let (srv, srec) = server(|c| {
        c.max_message_size = 1024;
        no_ping(c);
    });
    let port = srv.local_port();
    let (good, grec) = client(port, no_ping);
    let good_id = nth_connect(&srec, 1);
    grec.wait("good client open", T, |l| l.connects.first().copied());

    let k = [1, 2, 3, 4];
    let frag = |fin: bool, op: u8, p: &[u8]| frame(fin, op, p, Some(k));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "garbage bytes",
            b"\x13\x37 this is not a frame \x00\xff".to_vec(),
            1002,
        ),
        (
            "frame above max_message_size",
            // Only the header and mask of a 2000-byte frame: refused before the payload.
            frame(true, OP_TEXT, &[b'a'; 2000], Some(k))[..8].to_vec(),
            1009,
        ),
        (
            "fragments adding up above max_message_size",
            [
                frag(false, OP_BINARY, &[0; 500]),
                frag(false, OP_CONT, &[0; 500]),
                frag(true, OP_CONT, &[0; 500]),
            ]
            .concat(),
            1009,
        ),
        (
            "invalid UTF-8 text",
            client_frame(OP_TEXT, &[b'o', 0xc3, 0x28]),
            1007,
        ),
        (
            "invalid UTF-8 split across fragments",
            [
                frag(false, OP_TEXT, &[0xe2, 0x82]),
                frag(true, OP_CONT, &[0x28]),
            ]
            .concat(),
            1007,
        ),
        (
            "unmasked client frame",
            frame(true, OP_TEXT, b"hi", None),
            1002,
        ),
        (
            "new data frame inside a fragmented message",
            [frag(false, OP_TEXT, b"par"), frag(true, OP_TEXT, b"t")].concat(),
            1002,
        ),
        (
            "fragmented ping between fragments",
            [frag(false, OP_TEXT, b"par"), frag(false, OP_PING, b"x")].concat(),
            1002,
        ),
        (
            "continuation without a start",
            frag(true, OP_CONT, b"x"),
            1002,
        ),
        ("reserved opcode", frag(true, 0x3, b""), 1002),
        (
            "control frame above 125 bytes",
            frag(true, OP_PING, &[0; 126]),
            1002,
        ),
        (
            "close code 1005 on the wire",
            frag(true, OP_CLOSE, &1005u16.to_be_bytes()),
            1002,
        ),
        ("close frame of one byte", frag(true, OP_CLOSE, &[3]), 1002),
        (
            "close reason not UTF-8",
            frag(true, OP_CLOSE, &[0x03, 0xe8, 0xff]),
            1007,
        ),
    ];
    let mut opened = 1;
    for (i, (what, bytes, want)) in cases.iter().enumerate() {
        let mut raw = Raw::open(port);
        opened += 1;
        let id = nth_connect(&srec, opened);
        raw.send(bytes);
        let (code, data) = raw.expect_close();
        assert_eq!(code, *want, "{what}: close code sent");
        assert!(data.is_empty(), "{what}: unexpected frames {data:?}");
        drop(raw);
        assert_eq!(close_code_of(&srec, id), *want, "{what}: on_close code");
        // The good client is still served, both ways.
        good.send(0, format!("after {i}").as_bytes(), MsgKind::Text)
            .unwrap();
        srec.wait("good client's message", T, |l| {
            (l.messages.len() == i + 1).then_some(())
        });
        srv.send(good_id, format!("reply {i}").as_bytes(), MsgKind::Text)
            .unwrap();
        grec.wait("reply to the good client", T, |l| {
            (l.messages.len() == i + 1).then_some(())
        });
    }

    // Fragments interleaved with control frames are legal: pong answered, message delivered.
    let mut raw = Raw::open(port);
    opened += 1;
    let id = nth_connect(&srec, opened);
    raw.send(
        &[
            frag(false, OP_TEXT, "h\u{e9}".as_bytes()[..2].as_ref()),
            frag(true, OP_PING, b"ping payload"),
            frag(false, OP_CONT, &"h\u{e9}".as_bytes()[2..]),
            frag(true, OP_PONG, b"unsolicited"),
            frag(true, OP_CONT, b"llo"),
        ]
        .concat(),
    );
    let pong = raw.read_frame().expect("pong");
    assert_eq!(
        (pong.op, pong.payload.as_slice()),
        (OP_PONG, &b"ping payload"[..])
    );
    let msg = srec.wait("the fragmented message", T, |l| {
        l.messages.iter().find(|m| m.0 == id).map(|m| m.1.clone())
    });
    assert_eq!(msg, "h\u{e9}llo".as_bytes());
    raw.send(&frag(true, OP_CLOSE, &[0x03, 0xe8]));
    assert_eq!(raw.expect_close().0, 1000);
    drop(raw);
    assert_eq!(close_code_of(&srec, id), 1000);

    // Garbage instead of an HTTP request: a 400 answer, no connection reported.
    let mut raw = Raw::tcp(port);
    raw.send(b"\x00\x01\x02 not http\r\n\r\n");
    let head = raw.read_head().expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    drop(raw);

    // Exact totals: one connect and one close per WebSocket peer, the good client untouched.
    let n = cases.len();
    good.send(0, b"last", MsgKind::Text).unwrap();
    srec.wait("last good message", T, |l| {
        (l.messages.iter().filter(|m| m.0 == good_id).count() == n + 1).then_some(())
    });
    srec.with(|l| {
        assert_eq!(l.connects.len(), n + 2);
        assert_eq!(l.closes.len(), n + 1);
        assert!(l.closes.iter().all(|c| c.0 != good_id));
        let good_msgs: Vec<_> = l.messages.iter().filter(|m| m.0 == good_id).collect();
        for (i, m) in good_msgs.iter().take(n).enumerate() {
            assert_eq!(m.1, format!("after {i}").as_bytes());
        }
        // One on_error per protocol violation, none for the clean close.
        assert_eq!(l.errors.len(), n, "{:?}", l.errors);
    });
    grec.with(|l| {
        assert_eq!(l.connects.len(), 1);
        assert!(l.closes.is_empty() && l.errors.is_empty());
        assert_eq!(l.messages.len(), n);
    });
    assert_eq!(srv.stats().connections_current, 1);
    good.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

/// A TCP server that accepts and never answers the handshake: each attempt times out after
/// handshake_timeout, is reported as WS_ERR_TIMEOUT, and the client tries again.
#[test]
fn silent_server_handshake_times_out_then_retries() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(Vec::<(Instant, TcpStream)>::new()));
    let acc = accepted.clone();
    let acceptor = thread::spawn(move || {
        for s in l.incoming().take(3) {
            acc.lock().unwrap().push((Instant::now(), s.unwrap()));
        }
    });
    let (cli, crec) = client(port, |c| {
        c.handshake_timeout = Duration::from_millis(300);
        c.backoff_min = Duration::from_millis(10);
        c.backoff_max = Duration::from_millis(50);
    });
    cli.send(0, b"waits for a real server", MsgKind::Text)
        .unwrap();
    // Three attempts, each ended by a timeout.
    crec.wait("three handshake timeouts", Duration::from_secs(20), |l| {
        (l.errors.len() >= 3).then_some(())
    });
    acceptor.join().unwrap();
    let errors = crec.with(|l| {
        assert!(l.connects.is_empty() && l.closes.is_empty());
        l.errors.clone()
    });
    for (conn, e) in &errors[..3] {
        assert_eq!(*conn, 0);
        assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
        assert!(e.message.contains("handshake"), "{}", e.message);
    }
    // Each silent connection received a complete handshake request and was held ~300 ms.
    let acc = accepted.lock().unwrap();
    assert_eq!(acc.len(), 3);
    for w in acc.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(290),
            "retried before the timeout"
        );
    }
    let mut first = &acc[0].1;
    first.set_read_timeout(Some(T)).unwrap();
    let mut req = [0u8; 4096];
    let n = first.read(&mut req).unwrap();
    assert!(req[..n].starts_with(b"GET / HTTP/1.1\r\n"));
    assert!(cli.stats().reconnects >= 2);
    // Nothing was lost: the message is still queued.
    assert_eq!(cli.shutdown(Duration::ZERO), 1);
}

/// Broadcasts to three fast subscribers and one that never reads. With `policy`, answers
/// (messages each fast one got in order, sequence numbers the slow one got, the server).
fn slow_subscriber_run(policy: SlowPolicy) -> (Vec<u64>, Vec<u64>, Context, Recorder) {
    const N: u64 = 1500;
    const SIZE: usize = 64 * 1024;
    let (srv, srec) = server(|c| {
        c.queue_capacity = 64;
        c.slow_policy = policy;
        no_ping(c);
    });
    let port = srv.local_port();
    let fast: Vec<_> = (0..3)
        .map(|_| {
            let mut c = Config::new(Mode::Client);
            c.port = port;
            c.ping_interval = Duration::ZERO;
            let ctx = Context::create(c).unwrap();
            let cnt = Counter::default();
            ctx.start(Box::new(CountHandler(cnt.clone()))).unwrap();
            cnt.wait("fast connect", T, |c| (c.connects == 1).then_some(()));
            (ctx, cnt)
        })
        .collect();
    let mut slow = Raw::open(port);
    let slow_id = nth_connect(&srec, 4);
    // Paced in batches the fast subscribers drain before the next: their queues never hold
    // more than 32, so only the subscriber that does not read can overflow.
    let mut sent = 0;
    while sent < N {
        for _ in 0..32.min(N - sent) {
            srv.broadcast(&seq_msg(sent, SIZE), MsgKind::Binary)
                .unwrap();
            sent += 1;
        }
        for (_, cnt) in &fast {
            cnt.wait("fast subscriber keeps up", T, |c| {
                (c.received.values().sum::<u64>() == sent).then_some(())
            });
        }
    }
    let fast_counts: Vec<u64> = fast
        .iter()
        .map(|(_, cnt)| {
            cnt.with(|c| {
                assert_eq!(c.out_of_order, 0);
                assert_eq!(c.closes, 0, "a fast subscriber was closed");
                c.received.values().sum()
            })
        })
        .collect();
    // Now the slow one reads everything it is given.
    slow.s
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    loop {
        match policy {
            SlowPolicy::DropOldest if got.last() == Some(&(N - 1)) => break,
            _ => {}
        }
        let Some(f) = slow.read_frame() else { break };
        match f.op {
            OP_BINARY => got.push(seq_of(&f.payload)),
            OP_CLOSE => {
                assert_eq!(f.close_code(), 1008);
                break;
            }
            op => panic!("unexpected opcode {op}"),
        }
    }
    let _ = slow_id;
    for (ctx, _) in fast {
        ctx.shutdown(Duration::from_secs(1));
    }
    drop(slow);
    (fast_counts, got, srv, srec)
}

#[test]
fn slow_subscriber_disconnected_fast_ones_get_everything() {
    let (fast, got, srv, srec) = slow_subscriber_run(SlowPolicy::Disconnect);
    assert_eq!(fast, vec![1500, 1500, 1500]);
    // The slow one got an unbroken prefix, then was closed with 1008.
    assert!(
        (got.len() as u64) < 1500,
        "the slow subscriber was never cut off"
    );
    for (i, s) in got.iter().enumerate() {
        assert_eq!(*s, i as u64, "gap in what the slow subscriber got");
    }
    let slow_id = srec.with(|l| l.connects[3]);
    assert_eq!(close_code_of(&srec, slow_id), 1008);
    let st = srv.stats();
    assert_eq!(st.messages_sent, 3 * 1500 + got.len() as u64);
    assert!(st.messages_dropped >= 1);
    // Nothing else was dropped or left behind: every broadcast went to the fast ones.
    assert_eq!(st.messages_queued, 0);
    srec.with(|l| {
        let slow_closes: Vec<_> = l.closes.iter().filter(|c| c.1 == 1008).collect();
        assert_eq!(slow_closes.len(), 1, "{:?}", l.closes);
        assert_eq!(slow_closes[0].0, slow_id);
    });
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn slow_subscriber_drop_oldest_fast_ones_get_everything() {
    let (fast, got, srv, srec) = slow_subscriber_run(SlowPolicy::DropOldest);
    assert_eq!(fast, vec![1500, 1500, 1500]);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order");
    assert_eq!(got.last(), Some(&1499), "the newest message is kept");
    let st = srv.stats();
    assert!(
        st.messages_dropped >= 1,
        "nothing was dropped: the test did not fill the queue"
    );
    assert_eq!(
        st.messages_dropped,
        1500 - got.len() as u64,
        "dropped count is exact"
    );
    // The slow subscriber stayed connected until it went away by itself.
    srec.with(|l| assert!(l.closes.iter().all(|c| c.1 != 1008)));
    srv.shutdown(Duration::from_secs(1));
}

/// A peer that resets its TCP connection (SO_LINGER 0): on_close 1006 and an I/O error for it
/// alone; the server goes on serving others. A client whose server resets reconnects.
#[test]
fn abrupt_tcp_reset() {
    let (srv, srec) = server(no_ping);
    let port = srv.local_port();
    let (good, _grec) = client(port, no_ping);
    let good_id = nth_connect(&srec, 1);
    let raw = Raw::open(port);
    let id = nth_connect(&srec, 2);
    for i in 0..100 {
        srv.send(id, &seq_msg(i, 1000), MsgKind::Binary).unwrap();
    }
    raw.reset();
    assert_eq!(close_code_of(&srec, id), 1006);
    srec.with(|l| {
        let e: Vec<_> = l.errors.iter().filter(|e| e.0 == id).collect();
        assert_eq!(e.len(), 1, "{:?}", l.errors);
        assert_eq!(e[0].1.kind, ErrorKind::Io);
    });
    assert_eq!(
        srv.send(id, b"x", MsgKind::Text).unwrap_err().kind,
        ErrorKind::NotConnected
    );
    good.send(0, b"still served", MsgKind::Text).unwrap();
    let m = srec.wait("good message", T, |l| l.messages.first().cloned());
    assert_eq!((m.0, m.1.as_slice()), (good_id, &b"still served"[..]));
    good.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));

    // Client side: a raw server that resets right after the handshake.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, no_ping);
    for round in 0..2 {
        let (s, _) = l.accept().unwrap();
        let mut r = raw_server_handshake(s);
        if round == 0 {
            r.reset();
            crec.wait("close after reset", T, |l| {
                (l.closes.len() == 1).then_some(())
            });
            assert_eq!(crec.with(|l| l.closes[0].1), 1006);
        } else {
            crec.wait("reconnected", T, |l| (l.connects.len() == 2).then_some(()));
            cli.send(0, b"after reset", MsgKind::Text).unwrap();
            let f = r.read_frame().expect("message after the reconnect");
            assert_eq!(f.payload, b"after reset");
        }
    }
    cli.shutdown(Duration::ZERO);
}

/// Answers a client's opening handshake on a raw server socket.
fn raw_server_handshake(s: TcpStream) -> Raw {
    s.set_read_timeout(Some(T)).unwrap();
    let mut r = Raw::wrap(s);
    let head = r.read_head().expect("request");
    let key = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("a key");
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    r.send(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .as_bytes(),
    );
    r
}

#[test]
fn max_connections_is_enforced() {
    let (srv, srec) = server(|c| {
        c.max_connections = 3;
        no_ping(c);
    });
    let port = srv.local_port();
    let mut open: Vec<Raw> = (0..3).map(|_| Raw::open(port)).collect();
    nth_connect(&srec, 3);
    for _ in 0..3 {
        let mut extra = Raw::tcp(port);
        let head = extra.read_head().expect("a refusal");
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        extra.expect_eof();
    }
    assert_eq!(srv.stats().connections_current, 3);
    // One leaves cleanly; then there is room for exactly one more.
    let mut first = open.remove(0);
    first.send(&client_frame(OP_CLOSE, &1000u16.to_be_bytes()));
    assert_eq!(first.expect_close().0, 1000);
    drop(first);
    srec.wait("a close", T, |l| (l.closes.len() == 1).then_some(()));
    open.push(Raw::open(port));
    let mut extra = Raw::tcp(port);
    assert!(extra.read_head().unwrap().starts_with("HTTP/1.1 503"));
    srec.with(|l| assert_eq!(l.connects.len(), 4));
    assert_eq!(srv.stats().connections_current, 3);
    assert_eq!(srv.stats().connections_total, 4);
    drop(open);
    srv.shutdown(Duration::from_secs(1));
}

/// Sends until the queue is full and stays full: the kernel buffers towards the peer are full
/// too, so nothing more can leave. Answers how many sends were accepted.
fn fill_until_stuck(mut send: impl FnMut() -> bool, request: impl Fn(), rec: &Recorder) -> u64 {
    let mut accepted = 0u64;
    loop {
        while send() {
            accepted += 1;
            assert!(accepted < 100_000, "queue never filled");
        }
        let before = rec.with(|l| l.writable.len());
        request();
        // on_writable within 300 ms means the I/O thread still moved data into the kernel.
        let (m, cv) = &*rec.0;
        let g = m.lock().unwrap();
        let (g, _) = cv
            .wait_timeout_while(g, Duration::from_millis(300), |l| {
                l.writable.len() == before
            })
            .unwrap();
        if g.writable.len() == before {
            return accepted;
        }
    }
}

/// Destroy with a full queue towards a peer that reads nothing: it returns within the drain
/// timeout (plus the close linger it does not wait for) and reports every message that did not
/// reach the kernel as unsent.
#[test]
fn destroy_with_full_queue_and_dead_peer_reports_unsent() {
    // Server side.
    let (srv, srec) = server(|c| {
        c.queue_capacity = 16;
        no_ping(c);
    });
    let raw = Raw::open(srv.local_port());
    raw.small_rcvbuf();
    let id = nth_connect(&srec, 1);
    let msg = vec![0u8; 64 * 1024];
    let accepted = fill_until_stuck(
        || srv.send(id, &msg, MsgKind::Binary).is_ok(),
        || {
            srv.request_writable(id).unwrap();
        },
        &srec,
    );
    let t0 = Instant::now();
    let unsent = srv.shutdown(Duration::from_millis(500));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "did not drain for its timeout: {took:?}"
    );
    assert!(took < Duration::from_millis(3000), "destroy took {took:?}");
    assert!(unsent >= 16, "unsent {unsent}");
    let st = srv.stats();
    assert_eq!(st.messages_sent + unsent, accepted);
    assert_eq!(st.messages_dropped, unsent);
    drop(raw);

    // Client side: a server that completes the handshake and then reads nothing.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, |c| {
        c.queue_capacity = 16;
        no_ping(c);
    });
    let (s, _) = l.accept().unwrap();
    set_buf(&s, libc::SO_RCVBUF, 4096);
    let dead = raw_server_handshake(s);
    crec.wait("connect", T, |l| l.connects.first().copied());
    let accepted = fill_until_stuck(
        || cli.send(0, &msg, MsgKind::Binary).is_ok(),
        || {
            cli.request_writable(0).unwrap();
        },
        &crec,
    );
    let t0 = Instant::now();
    let unsent = cli.shutdown(Duration::from_millis(300));
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(3000), "destroy took {took:?}");
    assert!(unsent >= 16, "unsent {unsent}");
    assert_eq!(cli.stats().messages_sent + unsent, accepted);
    drop(dead);
}

/// Keepalive, client side: a server that answers no ping is declared dead after pong_timeout,
/// and the client reconnects.
#[test]
fn keepalive_client_detects_a_dead_server_and_reconnects() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, |c| {
        c.ping_interval = Duration::from_millis(100);
        c.pong_timeout = Duration::from_millis(300);
    });
    let (s, _) = l.accept().unwrap();
    let mut mute = raw_server_handshake(s);
    crec.wait("connect", T, |l| l.connects.first().copied());
    // It pings (masked, as a client must) and gets no answer.
    let ping = mute.read_frame().expect("a ping");
    assert_eq!(ping.op, OP_PING);
    let t0 = Instant::now();
    crec.wait("declared dead", T, |l| (l.closes.len() == 1).then_some(()));
    let waited = t0.elapsed();
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    crec.with(|l| {
        assert_eq!(l.closes[0].1, 1006);
        assert_eq!(l.errors.len(), 1);
        assert_eq!(l.errors[0].1.kind, ErrorKind::Timeout);
        assert!(
            l.errors[0].1.message.contains("pong"),
            "{}",
            l.errors[0].1.message
        );
    });
    // And reconnects: this time pings are answered and the connection stays up.
    let (s, _) = l.accept().unwrap();
    let mut alive = raw_server_handshake(s);
    crec.wait("reconnect", T, |l| (l.connects.len() == 2).then_some(()));
    for _ in 0..8 {
        let f = alive.read_frame().expect("ping");
        assert_eq!(f.op, OP_PING);
        alive.send(&frame(true, OP_PONG, &f.payload, None));
    }
    // Eight pings over ~800 ms, each answered: well past pong_timeout, still open.
    crec.with(|l| assert_eq!(l.closes.len(), 1));
    cli.shutdown(Duration::ZERO);
    drop(mute);
}

/// Keepalive, server side: pings from a peer are answered with the same payload; the server's
/// own pings unanswered end the half-open connection.
#[test]
fn keepalive_server_answers_pings_and_finds_half_open_peers() {
    let (srv, srec) = server(|c| {
        c.ping_interval = Duration::from_millis(100);
        c.pong_timeout = Duration::from_millis(300);
    });
    let port = srv.local_port();
    let mut raw = Raw::open(port);
    let id = nth_connect(&srec, 1);
    raw.send(&client_frame(OP_PING, b"are you there"));
    let mut answered = 0;
    let mut pongs = 0;
    while pongs == 0 || answered < 5 {
        let f = raw.read_frame().expect("frame");
        match f.op {
            OP_PONG => {
                assert_eq!(f.payload, b"are you there");
                pongs += 1;
            }
            OP_PING => {
                raw.send(&client_frame(OP_PONG, &f.payload));
                answered += 1;
            }
            op => panic!("opcode {op}"),
        }
    }
    assert_eq!(pongs, 1);
    srec.with(|l| assert!(l.closes.is_empty()));
    // Now the peer goes silent without closing (a half-open connection).
    let t0 = Instant::now();
    assert_eq!(close_code_of(&srec, id), 1006);
    assert!(t0.elapsed() < Duration::from_secs(3));
    srec.with(|l| {
        assert_eq!(l.errors.len(), 1);
        assert_eq!(l.errors[0].1.kind, ErrorKind::Timeout);
    });
    assert_eq!(srv.stats().connections_current, 0);
    drop(raw);

    // Engine to engine: both sides ping and answer; nothing closes.
    let (cli, crec) = client(port, |c| {
        c.ping_interval = Duration::from_millis(50);
        c.pong_timeout = Duration::from_millis(200);
    });
    crec.wait("connect", T, |l| l.connects.first().copied());
    // Not a synchronisation: the test is that nothing happens for several pong timeouts.
    thread::sleep(Duration::from_millis(1000));
    crec.with(|l| assert!(l.closes.is_empty() && l.errors.is_empty()));
    srec.with(|l| assert_eq!(l.closes.len(), 1));
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

/// Many threads sending to one client context while its server restarts: per-thread order is
/// kept and every accepted message arrives exactly once.
#[test]
fn concurrent_senders_across_a_server_restart() {
    let (srv, srec) = server(no_ping);
    let port = srv.local_port();
    let (cli, crec) = client(port, no_ping);
    crec.wait("connect", T, |l| l.connects.first().copied());
    let cli = Arc::new(cli);
    let per = 5000u64;
    let accepted = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..4u64)
        .map(|t| {
            let cli = cli.clone();
            let acc = accepted.clone();
            thread::spawn(move || {
                for i in 0..per {
                    let mut m = seq_msg(i, 16);
                    m[8] = t as u8;
                    cli.send(0, &m, MsgKind::Binary).unwrap();
                    acc.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    srv.shutdown(Duration::from_secs(1));
    let first: Vec<Vec<u8>> = srec.with(|l| l.messages.iter().map(|m| m.1.clone()).collect());
    let (srv2, srec2) = server(|c| {
        c.port = port;
        no_ping(c);
    });
    for s in senders {
        s.join().unwrap();
    }
    let total = 4 * per as usize;
    srec2.wait("the rest", Duration::from_secs(30), |l| {
        (first.len() + l.messages.len() >= total).then_some(())
    });
    let mut all = first;
    all.extend(srec2.with(|l| l.messages.iter().map(|m| m.1.clone()).collect::<Vec<_>>()));
    assert_eq!(all.len(), total);
    let mut next = [0u64; 4];
    for m in &all {
        let t = m[8] as usize;
        assert_eq!(seq_of(m), next[t], "thread {t} out of order");
        next[t] += 1;
    }
    assert_eq!(next, [per; 4]);
    let cli = Arc::try_unwrap(cli).ok().expect("senders joined");
    cli.shutdown(Duration::from_secs(1));
    srv2.shutdown(Duration::from_secs(1));
}

/// The disconnect policy does not wait for the slow subscriber to read: it is closed (1008) and
/// reported within the close timeout while it still reads nothing (found by this test: the close
/// used to wait for the peer to read, forever with keepalive off).
#[test]
fn slow_subscriber_that_reads_nothing_is_closed_within_the_close_timeout() {
    let (srv, srec) = server(|c| {
        c.queue_capacity = 8;
        no_ping(c);
    });
    let slow = Raw::open(srv.local_port());
    let id = nth_connect(&srec, 1);
    let msg = vec![1u8; 64 * 1024];
    // Far more than queue + batch + kernel buffers can hold.
    for _ in 0..400 {
        srv.broadcast(&msg, MsgKind::Binary).unwrap();
    }
    let t0 = Instant::now();
    assert_eq!(close_code_of(&srec, id), 1008);
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    let st = srv.stats();
    // Broadcasts after its removal no longer count it as a subscriber: at most 400 each way.
    assert!(st.messages_dropped >= 1);
    assert!(st.messages_sent + st.messages_dropped <= 400, "{st:?}");
    drop(slow);
    srv.shutdown(Duration::from_secs(1));
}

/// RFC 6455 5.5.1: after sending a close frame an endpoint sends no more data frames. A peer
/// closes while 300 frames of 64 KiB wait for it, queued by `queue` (which answers how many were
/// accepted): the close answer may come after data already on its way, but nothing may follow
/// the close frame; what was not written is counted as dropped.
fn close_while_frames_wait(queue: impl Fn(&Context, u64) -> u64) {
    let (srv, srec) = server(|c| {
        c.queue_capacity = 512;
        no_ping(c);
    });
    let mut raw = Raw::open(srv.local_port());
    let id = nth_connect(&srec, 1);
    let accepted = queue(&srv, id);
    // Closes while hundreds of frames wait for it (it has read nothing yet).
    raw.send(&client_frame(OP_CLOSE, &1000u16.to_be_bytes()));
    let (code, data) = raw.expect_close();
    assert_eq!(code, 1000);
    for (i, f) in data.iter().enumerate() {
        assert_eq!(f.op, OP_BINARY);
        assert_eq!(
            seq_of(&f.payload),
            i as u64,
            "data out of order before the close"
        );
    }
    drop(raw);
    assert_eq!(close_code_of(&srec, id), 1000);
    let st = srv.stats();
    assert_eq!(st.messages_sent, data.len() as u64, "{st:?}");
    assert_eq!(st.messages_sent + st.messages_dropped, accepted, "{st:?}");
    assert_eq!(st.messages_queued, 0, "{st:?}");
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn nothing_follows_our_close_frame() {
    close_while_frames_wait(|srv, id| {
        (0..300)
            .filter(|&i| {
                srv.send(id, &seq_msg(i, 64 * 1024), MsgKind::Binary)
                    .is_ok()
            })
            .count() as u64
    });
}

/// The same with broadcasts waiting in the broadcast log.
#[test]
fn nothing_follows_our_close_frame_with_broadcasts_waiting() {
    close_while_frames_wait(|srv, _| {
        for i in 0..300 {
            srv.broadcast(&seq_msg(i, 64 * 1024), MsgKind::Binary)
                .unwrap();
        }
        300
    });
}
