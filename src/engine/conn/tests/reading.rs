//! Large frames read straight into their message buffer (`Parser::begin_direct`): intact
//! whatever the pieces the bytes arrive in, fragmented or not, within the memory budget, and
//! with the same close codes as frames parsed from the read buffer.

use super::{Rig, Told};
use crate::engine::config::{Config, Mode};
use crate::engine::event::MsgKind;
use crate::engine::frame::{self, opcode};
use crate::engine::parser::DIRECT_MIN;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame; `fin` false leaves the message open.
fn client_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame::encode(op, payload, Some(KEY)).to_vec();
    if !fin {
        f[0] &= 0x7f;
    }
    f
}

/// Text of `len` bytes with two- and three-byte characters, so pieces split characters.
fn text(len: usize) -> Vec<u8> {
    let mut s = String::new();
    let mut i = 0u32;
    while s.len() < len {
        s.push(match i % 5 {
            0 => 'é',
            1 => '€',
            _ => char::from(b'a' + (i % 26) as u8),
        });
        i += 1;
    }
    while s.len() > len {
        s.pop();
    }
    while s.len() < len {
        s.push('x');
    }
    s.into_bytes()
}

fn server(f: impl FnOnce(&mut Config)) -> Rig {
    let mut c = Config::new(Mode::Server);
    f(&mut c);
    Rig::open_server(c)
}

fn received(r: &Rig) -> Vec<(Vec<u8>, MsgKind)> {
    r.told()
        .into_iter()
        .filter_map(|t| match t {
            Told::Receive(_, d, k) => Some((d, k)),
            _ => None,
        })
        .collect()
}

/// Feeds `bytes` in pieces of `step` bytes, reading after each.
fn feed_in_pieces(r: &mut Rig, bytes: &[u8], step: usize) {
    for piece in bytes.chunks(step) {
        r.feed(piece);
        r.read().expect("read");
    }
}

#[test]
fn a_large_frame_arriving_one_byte_at_a_time_arrives_whole() {
    let mut r = server(|_| {});
    let payload = text(DIRECT_MIN + 1000);
    let f = client_frame(true, opcode::TEXT, &payload);
    // The header and the first payload bytes one read each: the frame goes direct once its
    // header is complete, with its whole payload allocated at once (the budget has room).
    feed_in_pieces(&mut r, &f[..20], 1);
    assert!(r.conn.parser.direct_wanted() > 0);
    assert!(r.conn.inbuf.is_empty(), "no bytes of it in the read buffer");
    assert!(r.conn.held() >= payload.len());
    feed_in_pieces(&mut r, &f[20..], 1);
    assert_eq!(received(&r), vec![(payload, MsgKind::Text)]);
    assert!(r.conn.violation.is_none());
    assert_eq!(
        r.conn.parser.buffered(),
        0,
        "nothing held once it is handled"
    );
}

#[test]
fn large_fragments_with_a_ping_between_them_make_one_message() {
    let mut r = server(|_| {});
    let payload = text(3 * DIRECT_MIN + 77);
    let (a, rest) = payload.split_at(DIRECT_MIN + 5);
    let (b, c) = rest.split_at(DIRECT_MIN + 9);
    let mut wire = client_frame(false, opcode::TEXT, a);
    wire.extend(client_frame(true, opcode::PING, b"p"));
    wire.extend(client_frame(false, opcode::CONTINUATION, b));
    wire.extend(client_frame(true, opcode::CONTINUATION, c));
    wire.extend(client_frame(true, opcode::BINARY, b"after"));
    for step in [1000, 4096, 7, DIRECT_MIN + 3] {
        r.told.lock().unwrap().clear();
        feed_in_pieces(&mut r, &wire, step);
        assert_eq!(
            received(&r),
            vec![
                (payload.clone(), MsgKind::Text),
                (b"after".to_vec(), MsgKind::Binary)
            ],
            "pieces of {step}"
        );
        assert!(r.conn.violation.is_none());
    }
    // Every ping was answered.
    let pongs = r.conn.stream.wire.len() + r.conn.out.iter().map(|c| c.data.len()).sum::<usize>();
    assert!(pongs > 0);
}

#[test]
fn a_large_message_of_max_message_size_arrives_and_one_byte_more_is_refused() {
    let max = 4 * DIRECT_MIN;
    let mut r = server(|c| c.max_message_size = max);
    let payload: Vec<u8> = (0..max).map(|i| (i * 13) as u8).collect();
    feed_in_pieces(
        &mut r,
        &client_frame(true, opcode::BINARY, &payload),
        64 * 1024 - 1,
    );
    let (a, b) = payload.split_at(max / 3);
    let mut wire = client_frame(false, opcode::BINARY, a);
    wire.extend(client_frame(true, opcode::CONTINUATION, b));
    feed_in_pieces(&mut r, &wire, 10_000);
    assert_eq!(
        received(&r),
        vec![
            (payload.clone(), MsgKind::Binary),
            (payload.clone(), MsgKind::Binary)
        ]
    );
    // One byte more, announced in a continuation: 1009 at its header, nothing allocated for it.
    let mut wire = client_frame(false, opcode::BINARY, a);
    let mut big = b.to_vec();
    big.push(0);
    wire.extend(&client_frame(true, opcode::CONTINUATION, &big)[..20]);
    feed_in_pieces(&mut r, &wire, 10_000);
    assert_eq!(r.conn.violation.as_ref().map(|v| v.code), Some(1009));
}

#[test]
fn invalid_utf8_in_a_large_text_frame_is_refused_before_the_frame_ends() {
    let mut r = server(|_| {});
    let mut payload = text(4 * DIRECT_MIN);
    payload[DIRECT_MIN] = 0xff;
    let f = client_frame(true, opcode::TEXT, &payload);
    feed_in_pieces(&mut r, &f[..2 * DIRECT_MIN], 4096);
    assert_eq!(r.conn.violation.as_ref().map(|v| v.code), Some(1007));
    assert_eq!(
        r.conn.parser.direct_wanted(),
        0,
        "the frame is read no more"
    );
    feed_in_pieces(&mut r, &f[2 * DIRECT_MIN..], 4096);
    assert!(received(&r).is_empty());
}

#[test]
fn a_frame_announcing_more_than_half_the_budget_holds_only_what_arrived() {
    const BUDGET: usize = 1 << 20;
    let mut r = server(|c| {
        c.max_buffered_bytes = BUDGET;
        c.max_message_size = BUDGET;
    });
    // Announces 600 KiB (over half the budget), sends 20 KiB and stalls.
    let payload = vec![7u8; 600 * 1024];
    let f = client_frame(true, opcode::BINARY, &payload);
    feed_in_pieces(&mut r, &f[..20 * 1024], 4096);
    assert!(r.conn.parser.direct_wanted() > 0);
    let held = r.conn.held();
    assert!((20 * 1024..=48 * 1024).contains(&held), "held {held}");
    assert_eq!(
        r.shared.held.load(std::sync::atomic::Ordering::Relaxed),
        held
    );
    // The rest arrives: the buffer grows with it, and the message is whole.
    feed_in_pieces(&mut r, &f[20 * 1024..], 50_000);
    assert_eq!(received(&r), vec![(payload, MsgKind::Binary)]);
    assert_eq!(r.conn.parser.buffered(), 0);
}

#[test]
fn a_large_frame_whose_header_was_split_takes_the_rest_of_the_read() {
    for split in [1, 2, 3, 5, 7] {
        let mut r = server(|_| {});
        let payload = text(DIRECT_MIN + 4321);
        let mut wire = client_frame(true, opcode::TEXT, &payload);
        wire.extend(client_frame(true, opcode::BINARY, b"next"));
        // The header in two reads; the second holds the header's end, part of the payload.
        feed_in_pieces(&mut r, &wire[..split], split);
        let part = wire.len() - 5000;
        r.feed(&wire[split..part]);
        r.read().unwrap();
        assert!(r.conn.parser.direct_wanted() > 0, "split {split}");
        // The last read holds the end of the large frame and the whole next frame.
        r.feed(&wire[part..]);
        r.read().unwrap();
        assert_eq!(
            received(&r),
            vec![
                (payload.clone(), MsgKind::Text),
                (b"next".to_vec(), MsgKind::Binary)
            ],
            "split {split}"
        );
        assert!(r.conn.violation.is_none());
        // And all of it in one read after a split header.
        let mut r = server(|_| {});
        feed_in_pieces(&mut r, &wire[..split], split);
        r.feed(&wire[split..]);
        r.read().unwrap();
        assert_eq!(received(&r).len(), 2, "split {split}");
        assert!(r.conn.violation.is_none());
    }
}
