//! Replay for subscribers (docs/replay.md): broadcasts are numbered, the 101 answer says the
//! next number (`WS-API-Seq`), and a subscriber connecting with `?since=N` or `WS-API-Since: N`
//! gets one metadata message, then every broadcast still held after N, then the live ones,
//! without gap or duplicate. Real sockets, a tungstenite client.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use tungstenite::handshake::client::generate_key;
use tungstenite::{Message, WebSocket};
use ws_api::engine::{Config, Context, MsgKind, Retention, SlowPolicy};

/// A subscriber and what its handshake said.
struct Sub {
    ws: WebSocket<TcpStream>,
    /// The `WS-API-Seq` header: the number of the next broadcast.
    next_seq: u64,
}

fn retaining(messages: u64) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.replay = Retention {
            messages,
            bytes: 64 << 20,
        }
    }
}

/// Connects to the server on `port` with `query` (e.g. "?since=5") and extra header lines.
fn subscribe(port: u16, query: &str, extra: &str) -> Sub {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("tcp connect");
    s.set_read_timeout(Some(T)).unwrap();
    s.set_nodelay(true).unwrap();
    let req = format!(
        "GET /{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n{extra}\r\n",
        generate_key()
    );
    let mut s = s;
    s.write_all(req.as_bytes()).unwrap();
    // Read the head byte by byte so that no frame byte is taken from the socket.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("handshake answer");
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let next_seq = head
        .lines()
        .find_map(|l| l.strip_prefix("WS-API-Seq: "))
        .unwrap_or_else(|| panic!("no WS-API-Seq in {head}"))
        .trim()
        .parse()
        .unwrap();
    let ws = WebSocket::from_raw_socket(s, tungstenite::protocol::Role::Client, None);
    Sub { ws, next_seq }
}

impl Sub {
    fn text(&mut self) -> String {
        loop {
            match self.ws.read().expect("a message") {
                Message::Text(t) => return t.to_string(),
                Message::Binary(b) => panic!("binary {b:?}"),
                _ => {}
            }
        }
    }

    /// The replay metadata: (first, missed).
    fn metadata(&mut self) -> (u64, u64) {
        let t = self.text();
        let field = |name: &str| -> u64 {
            let at = t
                .find(&format!("\"{name}\":"))
                .unwrap_or_else(|| panic!("{t}"));
            let rest = &t[at + name.len() + 3..];
            let end = rest.find([',', '}']).unwrap();
            rest[..end].parse().unwrap()
        };
        assert!(t.starts_with("{\"ws_api\":\"replay\","), "{t}");
        (field("first"), field("missed"))
    }

    /// The next broadcast's number (its text is its number).
    fn seq(&mut self) -> u64 {
        let t = self.text();
        t.parse().unwrap_or_else(|_| panic!("not a number: {t}"))
    }
}

/// Broadcasts the numbers from..=to, each as its own text (numbers start at 1, as the
/// server's do, so the text of each broadcast is its number).
fn broadcast_range(srv: &Context, from: u64, to: u64) {
    for i in from..=to {
        srv.broadcast(i.to_string().as_bytes(), MsgKind::Text)
            .unwrap();
    }
}

#[test]
fn since_zero_gets_everything_retained_then_live() {
    let (srv, _rec) = server(retaining(1000));
    broadcast_range(&srv, 1, 50);
    let mut s = subscribe(srv.local_port(), "?since=0", "");
    assert_eq!(s.next_seq, 51);
    assert_eq!(s.metadata(), (1, 0));
    broadcast_range(&srv, 51, 60);
    for want in 1..=60 {
        assert_eq!(s.seq(), want);
    }
    // Replayed broadcasts count as queued then sent, like live ones; the metadata does not.
    // (The I/O thread counts a write once writev returned: wait for it.)
    let deadline = Instant::now() + T;
    loop {
        let st = srv.stats();
        if (st.messages_sent, st.messages_queued) == (60, 0) {
            break;
        }
        assert!(Instant::now() < deadline, "{st:?}");
        thread::sleep(Duration::from_millis(5));
    }
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn since_in_the_middle_and_the_header_form() {
    let (srv, _rec) = server(retaining(1000));
    broadcast_range(&srv, 1, 50);
    let mut q = subscribe(srv.local_port(), "?since=30", "");
    let mut h = subscribe(srv.local_port(), "", "WS-API-Since: 45\r\n");
    assert_eq!(q.metadata(), (31, 0));
    assert_eq!(h.metadata(), (46, 0));
    broadcast_range(&srv, 51, 52);
    for want in 31..=52 {
        assert_eq!(q.seq(), want);
    }
    for want in 46..=52 {
        assert_eq!(h.seq(), want);
    }
    // A subscriber without since gets no metadata, and its first broadcast is the one the
    // header announced.
    let mut live = subscribe(srv.local_port(), "", "");
    assert_eq!(live.next_seq, 53);
    broadcast_range(&srv, 53, 53);
    assert_eq!(live.seq(), 53);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn since_older_than_retained_counts_exactly_what_was_missed() {
    let (srv, _rec) = server(|c| {
        retaining(10)(c);
        c.queue_capacity = 16;
    });
    broadcast_range(&srv, 1, 100);
    for since in [0, 5, 50] {
        let mut s = subscribe(srv.local_port(), &format!("?since={since}"), "");
        let (first, missed) = s.metadata();
        assert_eq!(first, since + missed + 1, "since {since}");
        // The log holds at most 16 (its capacity), and at least the last 10.
        assert!((85..=91).contains(&first), "first {first}");
        for want in first..=100 {
            assert_eq!(s.seq(), want);
        }
    }
    // Without retention nothing is held once written, but nothing is hidden either.
    let (plain, _r) = server(|_| {});
    broadcast_range(&plain, 1, 7);
    let mut s = subscribe(plain.local_port(), "?since=2", "");
    assert_eq!(s.metadata(), (8, 5));
    srv.shutdown(Duration::from_secs(1));
    plain.shutdown(Duration::from_secs(1));
}

#[test]
fn since_above_the_newest_comes_from_an_earlier_run_and_counts_as_zero() {
    let (srv, _rec) = server(retaining(100));
    broadcast_range(&srv, 1, 3);
    let mut s = subscribe(srv.local_port(), "?since=18446744073709551615", "");
    assert_eq!(s.metadata(), (1, 0));
    assert_eq!((s.seq(), s.seq(), s.seq()), (1, 2, 3));
    srv.shutdown(Duration::from_secs(1));
}

/// The answer's status line to a raw request.
fn status_of(port: u16, target: &str, extra: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n{extra}\r\n",
        generate_key()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).to_string();
    answer.lines().next().unwrap_or("").to_string()
}

#[test]
fn hostile_since_values_are_refused_with_400() {
    let (srv, rec) = server(retaining(100));
    let port = srv.local_port();
    for target in [
        "/?since=",
        "/?since",
        "/?since=-1",
        "/?since=+1",
        "/?since=1.5",
        "/?since=0x1f",
        "/?since=%32",
        "/?since=18446744073709551616",
        "/?since=1&since=2",
        &format!("/?since={}", "9".repeat(4000)),
    ] {
        let st = status_of(port, target, "");
        assert_eq!(st, "HTTP/1.1 400 Bad Request", "{target}");
    }
    for header in [
        "WS-API-Since: x\r\n",
        "WS-API-Since: \r\n",
        "WS-API-Since: 1\r\nWS-API-Since: 2\r\n",
    ] {
        let st = status_of(port, "/", header);
        assert_eq!(st, "HTTP/1.1 400 Bad Request", "{header}");
    }
    // The server is unharmed: nobody connected, the next subscriber is served.
    assert!(rec.with(|l| l.connects.is_empty()));
    assert!(srv.stats().handshakes_refused >= 13);
    let mut s = subscribe(port, "?since=0", "");
    assert_eq!(s.metadata(), (1, 0));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn subscribers_joining_during_fast_broadcasts_get_every_number_once_in_order() {
    const N: u64 = 30_000;
    let (srv, _rec) = server(retaining(N));
    let srv = Arc::new(srv);
    let done = Arc::new(AtomicU64::new(0));
    let broadcaster = {
        let (srv, done) = (srv.clone(), done.clone());
        thread::spawn(move || {
            for i in 1..=N {
                srv.broadcast(i.to_string().as_bytes(), MsgKind::Text)
                    .unwrap();
                done.store(i, Ordering::Release);
            }
        })
    };
    let port = srv.local_port();
    let readers: Vec<_> = (0..8u64)
        .map(|k| {
            let done = done.clone();
            thread::spawn(move || {
                // Join at different moments, asking for different pasts.
                let deadline = Instant::now() + T;
                while done.load(Ordering::Acquire) < k * N / 10 {
                    assert!(Instant::now() < deadline, "broadcaster stalled");
                    thread::yield_now();
                }
                let seen = done.load(Ordering::Acquire);
                let (mut s, first) = if k % 3 == 2 {
                    // Live only: its first broadcast is the one WS-API-Seq named.
                    let s = subscribe(port, "", "");
                    let first = s.next_seq;
                    (s, first)
                } else {
                    let since = seen.saturating_sub(k * 700);
                    let mut s = subscribe(port, &format!("?since={since}"), "");
                    let (first, missed) = s.metadata();
                    assert_eq!((first, missed), (since + 1, 0), "subscriber {k}");
                    (s, first)
                };
                for want in first..=N {
                    assert_eq!(s.seq(), want, "subscriber {k}");
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
fn a_subscriber_that_drops_and_comes_back_with_since_gets_every_line_once() {
    const N: u64 = 20_000;
    let (srv, _rec) = server(retaining(N));
    let srv = Arc::new(srv);
    let port = srv.local_port();
    let mut s = subscribe(port, "?since=0", "");
    assert_eq!(s.metadata(), (1, 0));
    let broadcaster = {
        let srv = srv.clone();
        thread::spawn(move || {
            for i in 1..=N {
                srv.broadcast(i.to_string().as_bytes(), MsgKind::Text)
                    .unwrap();
                if i % 1000 == 0 {
                    // A steady stream rather than one burst, so that the drop falls inside it.
                    thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    let mut got = Vec::new();
    // Three drops during the stream: read a while, vanish, come back with since.
    for round in 0..3 {
        for _ in 0..2000 {
            got.push(s.seq());
        }
        let last = *got.last().unwrap();
        drop(s);
        s = subscribe(port, &format!("?since={last}"), "");
        let (first, missed) = s.metadata();
        assert_eq!((first, missed), (last + 1, 0), "round {round}");
    }
    while got.last() != Some(&N) {
        got.push(s.seq());
    }
    broadcaster.join().unwrap();
    let want: Vec<u64> = (1..=N).collect();
    assert!(got == want, "every line exactly once, in order");
    let srv = Arc::try_unwrap(srv).ok().unwrap();
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn a_replay_subscriber_that_falls_behind_is_disconnected_even_under_drop_oldest() {
    let (srv, rec) = server(|c| {
        retaining(64)(c);
        c.queue_capacity = 64;
        c.slow_policy = SlowPolicy::DropOldest;
    });
    let port = srv.local_port();
    // Neither reads: the replay one is closed, the plain one skips ahead.
    let replay = subscribe(port, "?since=0", "");
    let plain = subscribe(port, "", "");
    let conns = rec.wait("2 connects", T, |l| {
        (l.connects.len() == 2).then(|| l.connects.clone())
    });
    let big = vec![b'x'; 64 * 1024];
    let deadline = Instant::now() + T;
    while rec.with(|l| l.closes.is_empty()) {
        assert!(Instant::now() < deadline, "no subscriber was closed");
        srv.broadcast(&big, MsgKind::Text).unwrap();
    }
    let closed = rec.wait("the replay subscriber closed", T, |l| {
        l.closes.first().cloned()
    });
    assert_eq!((closed.0, closed.1), (conns[0], 1008));
    assert!(rec.with(|l| l.closes.len() == 1), "the plain one stays");
    drop((replay, plain));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn retained_history_stays_within_its_byte_bound_and_the_budget() {
    let (srv, _rec) = server(|c| {
        c.replay = Retention {
            messages: 1_000_000,
            bytes: 100_000,
        };
    });
    let msg = vec![b'y'; 1000];
    for _ in 0..1000 {
        srv.broadcast(&msg, MsgKind::Text).unwrap();
    }
    // Trimmed by the I/O thread once it looked: the budget total shows the history.
    let deadline = Instant::now() + T;
    loop {
        let b = srv.stats().buffered_bytes;
        if b > 0 && b <= 100_000 {
            break;
        }
        assert!(Instant::now() < deadline, "history not trimmed: {b}");
        thread::sleep(Duration::from_millis(10));
    }
    let mut s = subscribe(srv.local_port(), "?since=0", "");
    let (first, missed) = s.metadata();
    assert_eq!(first, missed + 1);
    assert!(missed >= 900, "{missed}");
    srv.shutdown(Duration::from_secs(1));
}
