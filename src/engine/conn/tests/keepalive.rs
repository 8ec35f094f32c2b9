//! Keepalive deadlines: a ping after `ping_interval`, the end after `pong_timeout` without a pong,
//! and pongs answering the peer's pings.

use std::time::{Duration, Instant};

use super::{server_frame, Rig};
use crate::engine::config::{Config, Mode};
use crate::engine::conn::End;
use crate::engine::frame::opcode;

const INTERVAL: Duration = Duration::from_secs(20);
const PONG: Duration = Duration::from_secs(5);

/// An open server connection and a moment no earlier than its opening.
fn open() -> (Rig, Instant) {
    let before = Instant::now();
    let mut c = Config::new(Mode::Server);
    c.ping_interval = INTERVAL;
    c.pong_timeout = PONG;
    let r = Rig::open_server(c);
    (r, before)
}

fn ping(n: u64) -> Vec<u8> {
    server_frame(opcode::PING, &n.to_be_bytes())
}

#[test]
fn a_ping_goes_after_the_interval_and_no_pong_ends_the_connection() {
    let (mut r, before) = open();
    // The first ping is due one interval after the opening (which is at or after `before`).
    let due = r.conn.next_deadline().expect("a ping is scheduled");
    assert!(due >= before + INTERVAL && due < Instant::now() + INTERVAL + Duration::from_secs(1));
    r.conn.on_timer(before, &r.shared).unwrap();
    r.write().unwrap();
    assert!(
        r.conn.stream.take_wire().is_empty(),
        "no ping before the interval"
    );

    let t = due;
    r.conn.on_timer(t, &r.shared).unwrap();
    r.write().unwrap();
    assert_eq!(r.conn.stream.take_wire(), ping(1));
    // Next: the pong deadline, then the next ping.
    assert_eq!(r.conn.next_deadline(), Some(t + PONG));
    r.conn
        .on_timer(t + PONG - Duration::from_millis(1), &r.shared)
        .unwrap();
    let end = r.conn.on_timer(t + PONG, &r.shared).unwrap_err();
    assert!(
        matches!(end, End::Timeout(w) if w.contains("pong")),
        "{end:?}"
    );
    assert_eq!(r.conn.close_status(&end).0, 1006);
}

#[test]
fn a_pong_clears_the_deadline_and_pings_go_on() {
    let (mut r, _) = open();
    let t = r.conn.next_deadline().unwrap();
    r.conn.on_timer(t, &r.shared).unwrap();
    r.write().unwrap();
    r.conn.stream.take_wire();
    r.feed_frame(opcode::PONG, &1u64.to_be_bytes());
    r.read().unwrap();
    // No pong deadline any more: the next thing due is the next ping.
    assert_eq!(r.conn.next_deadline(), Some(t + INTERVAL));
    r.conn.on_timer(t + PONG, &r.shared).unwrap();
    r.conn.on_timer(t + INTERVAL, &r.shared).unwrap();
    r.write().unwrap();
    assert_eq!(r.conn.stream.take_wire(), ping(2));
}

#[test]
fn an_unwritten_ping_is_replaced_not_repeated() {
    let (mut r, _) = open();
    let t = r.conn.next_deadline().unwrap();
    r.conn.stream.room = 0;
    r.conn.on_timer(t, &r.shared).unwrap();
    r.write().unwrap();
    r.feed_frame(opcode::PONG, b"");
    r.read().unwrap();
    r.conn.on_timer(t + INTERVAL, &r.shared).unwrap();
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    assert_eq!(r.conn.stream.take_wire(), ping(2));
}

#[test]
fn the_peers_pings_are_answered_with_their_payload() {
    let (mut r, _) = open();
    r.feed_frame(opcode::PING, b"abc");
    r.read().unwrap();
    r.write().unwrap();
    assert_eq!(
        r.conn.stream.take_wire(),
        server_frame(opcode::PONG, b"abc")
    );
}

#[test]
fn a_peer_that_reads_nothing_costs_one_pending_pong() {
    let (mut r, _) = open();
    r.conn.stream.room = 0;
    for i in 0..50u8 {
        r.feed_frame(opcode::PING, &[i]);
    }
    // All 50 arrive in one read: each answer replaces the pong still waiting.
    r.read().unwrap();
    r.write().unwrap();
    let pongs = r.conn.out.iter().filter(|c| c.data[0] == 0x8A).count();
    assert_eq!(pongs, 1, "{:?}", r.conn.out);
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    assert_eq!(r.conn.stream.take_wire(), server_frame(opcode::PONG, &[49]));
}
