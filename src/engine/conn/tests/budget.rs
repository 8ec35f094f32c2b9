//! The message timeout and the memory budget's accounting, as the connection sees them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{server_close, Rig};
use crate::engine::config::{Config, Mode};
use crate::engine::conn::Closing;
use crate::engine::frame::{self, opcode};

const LIMIT: Duration = Duration::from_secs(30);

fn open() -> Rig {
    let mut c = Config::new(Mode::Server);
    c.message_timeout = LIMIT;
    c.ping_interval = Duration::ZERO;
    Rig::open_server(c)
}

#[test]
fn a_frame_whose_bytes_stop_arriving_is_closed_with_1008_after_message_timeout() {
    let mut r = open();
    let before = Instant::now();
    let f = frame::encode(opcode::TEXT, &[b'x'; 100], Some([1, 2, 3, 4]));
    r.feed(&f[..50]);
    r.read().unwrap();
    // The half frame is held (and counted) until the rest comes or the timeout passes.
    assert!(r.conn.held() >= 50);
    assert_eq!(r.shared.held.load(Ordering::Relaxed), r.conn.held());
    let due = r.conn.next_deadline().expect("the message timeout runs");
    assert!(due >= before + LIMIT);
    r.conn
        .on_timer(due - Duration::from_millis(1), &r.shared)
        .unwrap();
    r.write().unwrap();
    assert!(r.conn.stream.take_wire().is_empty());
    r.conn.on_timer(due, &r.shared).unwrap();
    assert_eq!(r.conn.closing, Closing::FinAfterWrite);
    // What it held is freed at once and taken out of the context's total.
    assert_eq!(r.conn.held(), 0);
    assert_eq!(r.shared.held.load(Ordering::Relaxed), 0);
    r.write().unwrap();
    assert_eq!(
        r.conn.stream.take_wire(),
        server_close(1008, "message incomplete after message_timeout")
    );
    assert!(r.conn.stream.fin);
}

#[test]
fn a_complete_message_stops_the_timeout_and_frees_the_buffer() {
    let mut r = open();
    let f = frame::encode(opcode::TEXT, &[b'y'; 100], Some([1, 2, 3, 4]));
    r.feed(&f[..50]);
    r.read().unwrap();
    assert!(r.conn.next_deadline().is_some());
    r.feed(&f[50..]);
    r.read().unwrap();
    assert_eq!(r.conn.next_deadline(), None);
    assert_eq!(r.told().len(), 2, "connect and the message: {:?}", r.told());
    // An idle connection keeps at most a small read buffer, and the total says what it keeps.
    assert!(r.conn.held() <= 4 * 1024, "{}", r.conn.held());
    assert_eq!(r.shared.held.load(Ordering::Relaxed), r.conn.held());
    r.conn.unaccount(&r.shared);
    assert_eq!(r.shared.held.load(Ordering::Relaxed), 0);
}
