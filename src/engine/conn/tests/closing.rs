//! Closing handshake sequences: each side first, with and without data waiting, and a close while
//! a frame is partly written.

use std::time::Duration;

use super::{server_close, server_frame, Rig};
use crate::engine::config::{Config, Mode};
use crate::engine::conn::{Closing, End, Phase};
use crate::engine::frame::opcode;

const LONG: Duration = Duration::from_secs(60);

fn open() -> Rig {
    Rig::open_server(Config::new(Mode::Server))
}

#[test]
fn we_close_first_with_nothing_waiting() {
    let mut r = open();
    r.conn.request_close(1000, "bye", LONG);
    assert!(matches!(
        r.conn.closing,
        Closing::Requested { code: 1000, .. }
    ));
    r.write().unwrap();
    assert_eq!(r.conn.stream.take_wire(), server_close(1000, "bye"));
    assert_eq!(r.conn.closing, Closing::AwaitingPeer);
    assert_eq!(r.conn.close_sent, Some(1000));
    // We wait for the peer's close and let it close TCP first (no FIN from us).
    assert!(!r.conn.stream.fin);
    // A second request changes nothing.
    r.conn.request_close(1001, "", LONG);
    r.write().unwrap();
    assert!(r.conn.stream.take_wire().is_empty());
    r.feed_frame(
        opcode::CLOSE,
        &crate::engine::frame::close_payload(1000, "ok"),
    );
    let end = r.read().unwrap_err();
    assert!(matches!(end, End::Done));
    assert_eq!(r.conn.close_status(&end), (1000, "ok".to_string()));
    assert!(r.conn.error_of(&end).is_none());
}

#[test]
fn we_close_first_after_the_data_waiting() {
    let mut r = open();
    r.send(b"one");
    r.send(b"two");
    r.conn.request_close(1000, "", LONG);
    // The socket takes 4 bytes at a time: the close frame must not go before the data.
    r.conn.stream.room = 0;
    r.write().unwrap();
    assert!(r.conn.stream.wire.is_empty());
    assert!(matches!(r.conn.closing, Closing::Requested { .. }));
    let mut expected = server_frame(opcode::BINARY, b"one");
    expected.extend(server_frame(opcode::BINARY, b"two"));
    expected.extend(server_close(1000, ""));
    for _ in 0..expected.len() {
        r.conn.stream.room = 4;
        r.write().unwrap();
    }
    assert_eq!(r.conn.stream.take_wire(), expected);
    assert_eq!(r.conn.closing, Closing::AwaitingPeer);
    assert_eq!(r.stat(|s| &s.messages_sent), 2);
    assert!(!r.conn.has_unsent_data());
}

#[test]
fn peer_closes_first_with_nothing_waiting() {
    let mut r = open();
    r.feed_frame(
        opcode::CLOSE,
        &crate::engine::frame::close_payload(1001, "away"),
    );
    r.read().unwrap();
    assert_eq!(r.conn.closing, Closing::FinAfterWrite);
    r.write().unwrap();
    // The echo carries the code only.
    assert_eq!(r.conn.stream.take_wire(), server_close(1001, ""));
    assert!(r.conn.stream.fin);
    assert_eq!(r.conn.phase, Phase::Linger);
    // Whatever the peer sends now is ignored; its EOF ends the connection cleanly.
    r.feed_frame(opcode::TEXT, b"late");
    r.read().unwrap();
    r.conn.stream.eof = true;
    let end = r.read().unwrap_err();
    assert!(matches!(end, End::Eof));
    assert_eq!(r.conn.close_status(&end), (1001, "away".to_string()));
    assert!(r.conn.error_of(&end).is_none());
    assert_eq!(r.told().len(), 1, "only the connect: {:?}", r.told());
}

#[test]
fn peer_closes_first_with_data_waiting_which_is_withheld() {
    let mut r = open();
    r.send(b"one");
    r.send(b"two");
    r.conn.stream.room = 0;
    r.write().unwrap();
    assert_eq!(r.conn.out.len(), 2, "both in the batch, none written");
    r.feed_frame(
        opcode::CLOSE,
        &crate::engine::frame::close_payload(1000, ""),
    );
    r.read().unwrap();
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    // No data frame may follow the close frame: only the close goes.
    assert_eq!(r.conn.stream.take_wire(), server_close(1000, ""));
    assert!(r.conn.stream.fin);
    assert!(r.conn.has_unsent_data());
    let unsent = r.conn.take_unsent_data();
    let frames: Vec<Vec<u8>> = unsent.iter().map(|c| c.data.to_vec()).collect();
    assert_eq!(
        frames,
        vec![
            server_frame(opcode::BINARY, b"one"),
            server_frame(opcode::BINARY, b"two")
        ]
    );
    assert!(unsent.iter().all(|c| c.off == 0));
    assert_eq!(r.stat(|s| &s.messages_sent), 0);
}

#[test]
fn peer_close_while_a_frame_is_partly_written_lets_that_frame_finish() {
    let mut r = open();
    let big = vec![7u8; 1000];
    r.send(&big);
    r.send(b"after");
    r.conn.stream.room = 10;
    r.write().unwrap();
    assert_eq!(r.conn.stream.wire.len(), 10);
    assert_eq!(r.conn.out.front().unwrap().off, 10);
    r.feed_frame(
        opcode::CLOSE,
        &crate::engine::frame::close_payload(1000, ""),
    );
    r.read().unwrap();
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    let mut expected = server_frame(opcode::BINARY, &big);
    expected.extend(server_close(1000, ""));
    assert_eq!(r.conn.stream.take_wire(), expected);
    assert_eq!(r.stat(|s| &s.messages_sent), 1);
    let unsent = r.conn.take_unsent_data();
    assert_eq!(unsent.len(), 1);
    assert_eq!(
        unsent[0].data.to_vec(),
        server_frame(opcode::BINARY, b"after")
    );
}

#[test]
fn a_protocol_violation_closes_with_its_code_and_fin() {
    let mut r = open();
    // An unmasked frame from a client is a protocol error (RFC 6455 5.1).
    r.feed(&server_frame(opcode::TEXT, b"x"));
    r.read().unwrap();
    r.write().unwrap();
    let wire = r.conn.stream.take_wire();
    assert_eq!(
        &wire[..4],
        &[0x88, wire[1], 0x03, 0xEA],
        "close 1002: {wire:?}"
    );
    assert!(r.conn.stream.fin);
    r.conn.stream.eof = true;
    let end = r.read().unwrap_err();
    assert_eq!(r.conn.close_status(&end).0, 1002);
    assert!(r.conn.error_of(&end).is_some(), "a violation is reported");
}

#[test]
fn close_deadline_ends_a_peer_that_never_answers() {
    let mut r = open();
    let t = std::time::Instant::now();
    r.conn.request_close(1000, "", Duration::from_secs(5));
    r.write().unwrap();
    assert!(r.conn.on_timer(t, &r.shared).is_ok());
    // The close deadline is the sooner of `within` and CLOSE_TIMEOUT once the frame is out.
    let late = t + crate::engine::conn::CLOSE_TIMEOUT + Duration::from_secs(1);
    assert!(matches!(r.conn.on_timer(late, &r.shared), Err(End::Done)));
    assert_eq!(r.conn.close_status(&End::Done), (1000, String::new()));
}

#[test]
fn a_close_requested_but_never_sent_is_reported_with_its_code() {
    let mut r = open();
    r.send(b"stuck");
    r.conn.stream.room = 0;
    r.conn.request_close(4000, "", LONG);
    r.write().unwrap();
    assert_eq!(r.conn.close_sent, None);
    assert_eq!(r.conn.close_status(&End::Done), (4000, String::new()));
    assert_eq!(r.conn.close_status(&End::Timeout("x")).0, 1006);
}

#[test]
fn a_client_masks_its_close_and_ends_on_the_servers_answer() {
    let mut r = super::open_client();
    r.conn.request_close(1000, "", LONG);
    r.write().unwrap();
    let wire = r.conn.stream.take_wire();
    // FIN + close, masked, 2 bytes of payload: the code, under the 4-byte mask.
    assert_eq!(&wire[..2], &[0x88, 0x82]);
    assert_eq!(wire.len(), 8);
    let code = [wire[6] ^ wire[2], wire[7] ^ wire[3]];
    assert_eq!(u16::from_be_bytes(code), 1000);
    r.feed(&server_close(1000, ""));
    let end = r.read().unwrap_err();
    assert!(matches!(end, End::Done));
    assert!(r.conn.error_of(&end).is_none());
}

#[test]
fn last_word_writes_a_close_ahead_of_the_unsent_data_and_keeps_the_data() {
    let mut r = open();
    r.send(b"one");
    r.send(b"two");
    r.conn.stream.room = 0;
    r.write().unwrap();
    r.conn.stream.room = usize::MAX;
    r.conn.writable = true;
    r.conn.last_word(1001, "going away", &r.shared, &r.log);
    assert_eq!(r.conn.stream.take_wire(), server_close(1001, "going away"));
    // The data stays in the batch for the caller to count as unsent.
    let frames: Vec<Vec<u8>> = r.conn.out.iter().map(|c| c.data.to_vec()).collect();
    assert_eq!(
        frames,
        vec![
            server_frame(opcode::BINARY, b"one"),
            server_frame(opcode::BINARY, b"two")
        ]
    );
    assert_eq!(r.stat(|s| &s.messages_sent), 0);
}

#[test]
fn last_word_says_nothing_into_a_partly_written_frame() {
    let mut r = open();
    r.send(&[3u8; 100]);
    r.conn.stream.room = 5;
    r.write().unwrap();
    r.conn.stream.room = usize::MAX;
    r.conn.writable = true;
    r.conn.last_word(1001, "", &r.shared, &r.log);
    assert_eq!(r.conn.stream.wire.len(), 5, "no close frame inside a frame");
    assert_eq!(r.conn.close_sent, None);
}
