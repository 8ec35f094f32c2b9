//! Partial writes and the write batch's limits (`BATCH_FRAMES`, `BATCH_BYTES`, `IOV`).

use super::{server_frame, Rig};
use crate::engine::config::{Config, Mode};
use crate::engine::conn::{BATCH_BYTES, BATCH_FRAMES, IOV};
use crate::engine::frame::opcode;

fn open() -> Rig {
    Rig::open_server(Config::new(Mode::Server))
}

#[test]
fn a_frame_written_one_byte_at_a_time_arrives_whole_and_is_counted_once() {
    let mut r = open();
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    r.send(&payload);
    let frame = server_frame(opcode::BINARY, &payload);
    for i in 0..frame.len() {
        r.conn.stream.room = 1;
        r.write().unwrap();
        assert_eq!(r.conn.stream.wire.len(), i + 1);
        if i + 1 < frame.len() {
            assert!(!r.conn.writable, "the socket is full again");
            // Still in the batch, partly written, not yet counted as sent.
            assert_eq!(r.conn.out.len(), 1);
            assert_eq!(r.conn.out[0].off, i + 1);
            assert_eq!(r.conn.out_bytes, frame.len() - i - 1);
            assert_eq!(r.stat(|s| &s.messages_sent), 0);
            assert_eq!(r.stat(|s| &s.messages_queued), 1);
        }
    }
    assert_eq!(r.conn.stream.take_wire(), frame);
    assert!(r.conn.out.is_empty());
    assert_eq!(r.conn.out_bytes, 0);
    assert_eq!(r.stat(|s| &s.messages_sent), 1);
    assert_eq!(r.stat(|s| &s.bytes_sent), 300);
    assert_eq!(r.stat(|s| &s.messages_queued), 0);
    assert!(!r.conn.has_unsent_data());
}

#[test]
fn writes_go_on_within_one_wake_up_while_the_socket_takes_pieces() {
    let mut r = open();
    r.send(b"hello");
    r.send(b"world");
    // Every write call takes 3 bytes; the socket never fills up.
    r.conn.stream.max_write = 3;
    r.write().unwrap();
    let mut expected = server_frame(opcode::BINARY, b"hello");
    expected.extend(server_frame(opcode::BINARY, b"world"));
    assert_eq!(r.conn.stream.take_wire(), expected);
    assert!(r.conn.writable);
    assert_eq!(r.stat(|s| &s.messages_sent), 2);
}

#[test]
fn a_batch_takes_at_most_1024_frames_from_the_queue() {
    assert_eq!(BATCH_FRAMES, 1024);
    let mut r = open();
    for i in 0..1500u32 {
        r.send(&i.to_be_bytes());
    }
    r.conn.stream.room = 0;
    r.write().unwrap();
    assert_eq!(r.conn.out.len(), 1024);
    assert_eq!(r.conn.out_bytes, 1024 * 6);
    assert_eq!(r.conn.queue.len(), 1500 - 1024);
    // Once the socket takes everything, all of it goes, in order, at most IOV buffers a call.
    r.conn.stream.room = usize::MAX;
    r.conn.stream.slices.clear();
    r.write().unwrap();
    let wire = r.conn.stream.take_wire();
    assert_eq!(wire.len(), 1500 * 6);
    for (i, f) in wire.chunks(6).enumerate() {
        assert_eq!(f, server_frame(opcode::BINARY, &(i as u32).to_be_bytes()));
    }
    assert_eq!(IOV, 512);
    assert_eq!(r.conn.stream.slices.iter().max(), Some(&IOV));
    assert_eq!(r.stat(|s| &s.messages_sent), 1500);
    assert_eq!(r.stat(|s| &s.messages_queued), 0);
}

#[test]
fn a_batch_takes_at_most_1_mib_from_the_queue() {
    assert_eq!(BATCH_BYTES, 1 << 20);
    let mut r = open();
    let big = vec![1u8; 600 * 1024];
    for _ in 0..3 {
        r.send(&big);
    }
    r.conn.stream.room = 0;
    r.write().unwrap();
    // The second frame crosses 1 MiB: the batch stops there.
    assert_eq!(r.conn.out.len(), 2);
    assert_eq!(r.conn.queue.len(), 1);
    let frame_len = server_frame(opcode::BINARY, &big).len();
    assert_eq!(r.conn.out_bytes, 2 * frame_len);
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    assert_eq!(r.conn.stream.take_wire().len(), 3 * frame_len);
    assert_eq!(r.conn.out_bytes, 0);
}

#[test]
fn control_frames_go_ahead_of_queued_data_but_not_into_a_partly_written_frame() {
    let mut r = open();
    let payload = vec![5u8; 100];
    r.send(&payload);
    r.send(b"next");
    r.conn.stream.room = 7;
    r.write().unwrap();
    r.feed_frame(opcode::PING, b"p");
    r.read().unwrap();
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    let mut expected = server_frame(opcode::BINARY, &payload);
    expected.extend(server_frame(opcode::PONG, b"p"));
    expected.extend(server_frame(opcode::BINARY, b"next"));
    assert_eq!(r.conn.stream.take_wire(), expected);
}

#[test]
fn broadcasts_and_own_messages_keep_their_order_through_byte_sized_writes() {
    let mut r = open();
    let bcast = |r: &Rig, p: &[u8]| {
        let n = r
            .shared
            .bcast
            .append_with(opcode::TEXT, p, None, &r.shared.stats.messages_queued);
        assert_eq!(n, 1, "one subscriber");
    };
    bcast(&r, b"a");
    bcast(&r, b"b");
    // A message of its own, sent after "a" and "b" and before "c".
    let own = crate::engine::queue::OutMsg {
        frame: crate::engine::frame::encode(opcode::BINARY, b"own", None),
        payload_len: 3,
        after: r.shared.bcast.head(),
        seq: 0,
    };
    r.shared
        .stats
        .messages_queued
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    r.conn.queue.push(own, false).unwrap();
    bcast(&r, b"c");
    r.shared.bcast.sync(&mut r.log, r.conn.bcast.unwrap());
    let mut expected = server_frame(opcode::TEXT, b"a");
    expected.extend(server_frame(opcode::TEXT, b"b"));
    expected.extend(server_frame(opcode::BINARY, b"own"));
    expected.extend(server_frame(opcode::TEXT, b"c"));
    // One byte per write: frames of the log end up partly written and move into the batch.
    for _ in 0..expected.len() {
        r.conn.stream.room = 1;
        r.write().unwrap();
    }
    assert_eq!(r.conn.stream.take_wire(), expected);
    assert_eq!(r.conn.bcast, Some(r.shared.bcast.head()));
    assert!(r.conn.out.is_empty());
    assert_eq!(r.conn.out_bytes, 0);
    assert_eq!(r.stat(|s| &s.messages_sent), 4);
    assert_eq!(r.stat(|s| &s.bytes_sent), 6);
    assert_eq!(r.stat(|s| &s.messages_queued), 0);
}
