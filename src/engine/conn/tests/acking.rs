//! Acknowledgements on one connection (docs/acks.md), without sockets: the server's batching
//! (one `ack <N>` per read, none before the application says so in MANUAL mode, never in place
//! of a keepalive pong), and the client's window (kept until acknowledged, handed back first
//! at a drop, marked as resends and queued again).

use std::time::Instant;

use super::{response, server_frame, Rig};
use crate::engine::acks::{AckMode, ACK_DELAY};
use crate::engine::config::{Config, Mode};
use crate::engine::conn::Phase;
use crate::engine::frame::opcode;

/// The unmasked frames a server wrote: (opcode, payload).
fn frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while wire.len() >= 2 {
        let len = usize::from(wire[1] & 0x7f);
        assert!(len < 126, "short frames only");
        out.push((wire[0] & 0x0f, wire[2..2 + len].to_vec()));
        wire = &wire[2 + len..];
    }
    out
}

/// A server connection in `mode` whose client offered acknowledgements; the 101 is checked
/// and taken off the wire.
fn ack_server(mode: AckMode) -> Rig {
    let mut c = Config::new(Mode::Server);
    c.acks = mode;
    let mut r = Rig::new(c, Phase::ServerHandshake);
    r.feed(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          WS-API-Ack: 1\r\n\r\n",
    );
    r.read().unwrap();
    r.write().unwrap();
    let head = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "{head}");
    // Among the other headers (a server also numbers its broadcasts: WS-API-Seq).
    assert!(head.contains("\r\nWS-API-Ack: 1\r\n"), "{head}");
    r
}

#[test]
fn the_server_acknowledges_a_read_of_several_messages_with_one_pong() {
    let mut r = ack_server(AckMode::Auto);
    for m in [&b"a"[..], b"b", b"c"] {
        r.feed_frame(opcode::BINARY, m);
    }
    r.read().unwrap();
    r.write().unwrap();
    assert_eq!(
        frames(&r.conn.stream.take_wire()),
        [(opcode::PONG, b"ack 3".to_vec())]
    );
    // Nothing new: nothing more is said.
    r.read().unwrap();
    r.write().unwrap();
    assert!(r.conn.stream.take_wire().is_empty());
}

#[test]
fn manual_mode_acknowledges_what_the_application_said_and_no_more() {
    // Taken before the connection exists: a round "at" t0 never finds the delay elapsed.
    let t0 = Instant::now();
    let mut r = ack_server(AckMode::Manual);
    for m in [&b"a"[..], b"b", b"c"] {
        r.feed_frame(opcode::BINARY, m);
    }
    r.read().unwrap();
    r.write().unwrap();
    assert!(r.conn.stream.take_wire().is_empty(), "nothing safe yet");
    assert!(r.shared.rx_acks.acknowledge(1, 4).is_err());
    assert!(r.shared.rx_acks.acknowledge(1, 2).unwrap());
    // Part of what was received is safe: more may follow at once (an application that
    // acknowledges message by message), so it waits for the batch or the delay...
    r.conn.ack_round(t0, true);
    r.write().unwrap();
    assert!(
        r.conn.stream.take_wire().is_empty(),
        "a partial acknowledgement waits"
    );
    // ...and goes out when the delay is over.
    r.conn.ack_round(Instant::now() + ACK_DELAY, false);
    r.write().unwrap();
    assert_eq!(
        frames(&r.conn.stream.take_wire()),
        [(opcode::PONG, b"ack 2".to_vec())]
    );
    // Everything received is safe: at once (the sender may be waiting for exactly this).
    assert!(r.shared.rx_acks.acknowledge(1, 3).unwrap());
    r.conn.ack_round(Instant::now(), true);
    r.write().unwrap();
    assert_eq!(
        frames(&r.conn.stream.take_wire()),
        [(opcode::PONG, b"ack 3".to_vec())]
    );
}

#[test]
fn manual_mode_wakes_the_io_thread_once_per_deferred_batch_and_when_everything_delivered_is_safe() {
    let t0 = Instant::now();
    let mut r = ack_server(AckMode::Manual);
    for m in [&b"a"[..], b"b", b"c", b"d"] {
        r.feed_frame(opcode::BINARY, m);
    }
    r.read().unwrap();
    assert!(
        r.shared.rx_acks.acknowledge(1, 1).unwrap(),
        "the first of a batch wakes"
    );
    // The I/O thread looks and leaves the partial acknowledgement to the batch timer...
    r.conn.ack_round(t0, true);
    assert!(r.conn.rx_acks.as_ref().unwrap().due.is_some());
    // ...which looks anyway: the next ones do not wake it (syslog-ng acknowledges message by
    // message as its destination writes)...
    assert!(!r.shared.rx_acks.acknowledge(1, 2).unwrap());
    assert!(!r.shared.rx_acks.acknowledge(1, 3).unwrap());
    // ...except the one that makes everything delivered safe: the sender may be waiting for it.
    assert!(r.shared.rx_acks.acknowledge(1, 4).unwrap());
    r.conn.ack_round(Instant::now(), true);
    r.write().unwrap();
    assert_eq!(
        frames(&r.conn.stream.take_wire()),
        [(opcode::PONG, b"ack 4".to_vec())]
    );
    // Nothing waits for the timer any more: the first of the next batch wakes again.
    r.feed_frame(opcode::BINARY, b"e");
    r.feed_frame(opcode::BINARY, b"f");
    r.read().unwrap();
    assert!(r.shared.rx_acks.acknowledge(1, 5).unwrap());
}

#[test]
fn an_acknowledgement_never_replaces_the_answer_to_a_ping() {
    let mut r = ack_server(AckMode::Auto);
    r.conn.stream.room = 0;
    r.feed_frame(opcode::PING, b"p");
    r.feed_frame(opcode::BINARY, b"a");
    r.read().unwrap();
    r.feed_frame(opcode::PING, b"q");
    r.feed_frame(opcode::BINARY, b"b");
    r.read().unwrap();
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    // One pong per kind waited: the latest ping's answer and the acknowledgement of the first
    // read. The second read stopped at the unwritten pong (a peer that does not read is read
    // no more), so its acknowledgement waits for the batch timer.
    let mut got = frames(&r.conn.stream.take_wire());
    got.sort();
    assert_eq!(
        got,
        [
            (opcode::PONG, b"ack 1".to_vec()),
            (opcode::PONG, b"q".to_vec())
        ]
    );
    let due = r.conn.next_deadline().expect("the batch timer");
    assert!(due <= Instant::now() + ACK_DELAY);
    r.conn.on_timer(due, &r.shared).unwrap();
    r.write().unwrap();
    assert_eq!(
        frames(&r.conn.stream.take_wire()),
        [(opcode::PONG, b"ack 2".to_vec())]
    );
}

#[test]
fn acknowledgements_owed_go_out_before_the_close() {
    for peer_closes in [false, true] {
        let mut r = ack_server(AckMode::Manual);
        r.feed_frame(opcode::BINARY, b"a");
        r.feed_frame(opcode::BINARY, b"b");
        r.read().unwrap();
        // Safe, but the I/O thread has not looked yet.
        assert!(r.shared.rx_acks.acknowledge(1, 2).unwrap());
        if peer_closes {
            r.feed_frame(opcode::CLOSE, &[0x03, 0xe8]);
            r.read().unwrap();
        } else {
            r.conn
                .request_close(1001, "going away", std::time::Duration::from_secs(1));
        }
        let _ = r.write();
        let got = frames(&r.conn.stream.take_wire());
        assert_eq!(got[0], (opcode::PONG, b"ack 2".to_vec()), "{peer_closes}");
        assert_eq!(got[1].0, opcode::CLOSE, "{peer_closes}");
    }
}

/// A client connection that negotiated acknowledgements.
fn ack_client() -> Rig {
    let mut c = Config::new(Mode::Client);
    c.port = 9;
    c.acks = AckMode::Auto;
    c.ack_window = 3;
    let mut r = Rig::new(c, Phase::Connecting);
    r.conn.start_client_handshake(&r.shared);
    r.write().unwrap();
    let wire = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    let key = wire
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut head = response("101 Switching Protocols", &accept);
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"WS-API-Ack: 1\r\n\r\n");
    r.feed(&head);
    r.read().unwrap();
    assert_eq!(r.conn.phase, Phase::Open);
    r
}

#[test]
fn the_client_keeps_its_window_and_hands_it_back_first_as_resends() {
    let mut r = ack_client();
    for m in [&b"1"[..], b"2", b"3", b"4", b"5"] {
        r.send(m);
    }
    r.write().unwrap();
    assert_eq!(r.stat(|s| &s.messages_sent), 3, "a window of 3");
    assert!(r.conn.has_unacked());
    r.feed(&server_frame(opcode::PONG, b"ack 1"));
    r.read().unwrap();
    assert_eq!(r.stat(|s| &s.messages_acked_seq), 1);
    r.write().unwrap();
    assert_eq!(r.stat(|s| &s.messages_sent), 4);
    // The connection drops: 2, 3, 4 were written and not acknowledged (5 waits in the
    // context's queue, which outlives the connection).
    let mut back = r.conn.take_unacked(&r.shared);
    back.extend(r.conn.take_unsent_data());
    assert_eq!(back.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3, 4]);
    assert!(back.iter().all(|c| c.resend && c.off == 0));
    assert_eq!(r.stat(|s| &s.messages_queued), 4, "3 queued again and 5");
    assert!(!r.conn.has_unacked());
}
