//! The send queue's blocks: frames as `encode` builds them, order and numbering, capacity,
//! `clear`, and the reuse of a block's memory only once its slices are gone.

use super::*;
use crate::engine::frame::{encode, opcode, parts};

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// The payload of a frame from the queue, unmasked.
fn unmasked(f: &[u8]) -> Vec<u8> {
    let (_, mask, body) = parts(f);
    let mut b = body.to_vec();
    if let Some(k) = mask {
        crate::engine::frame::apply_mask(&mut b, k, 0);
    }
    b
}

#[test]
fn frames_come_out_in_order_with_their_numbers() {
    let q = OutQueue::new(100);
    for i in 0..10 {
        assert_eq!(
            q.push_frame(opcode::BINARY, &payload(i, 200), true, 0, true),
            Some(i as u64 + 1)
        );
    }
    assert_eq!(q.len(), 10);
    for i in 0..10 {
        let m = q.pop().expect("a message");
        assert_eq!(m.seq, i as u64 + 1);
        assert_eq!(m.payload_len, 200);
        assert_eq!(unmasked(&m.frame), payload(i, 200));
        assert_eq!(
            m.frame.len(),
            200 + 4 + 4,
            "masked header of a 200-byte payload"
        );
    }
    assert!(q.pop().is_none());
    assert!(q.is_empty());
}

#[test]
fn server_frames_are_unmasked_and_keep_their_place() {
    let q = OutQueue::new(10);
    assert_eq!(
        q.push_frame(opcode::TEXT, b"hello", false, 7, false),
        Some(0)
    );
    let m = q.pop().unwrap();
    assert_eq!(&m.frame[..], &encode(opcode::TEXT, b"hello", None)[..]);
    assert_eq!((m.after, m.seq), (7, 0));
}

#[test]
fn mask_keys_differ_between_frames() {
    let q = OutQueue::new(1000);
    let mut keys = std::collections::HashSet::new();
    for _ in 0..200 {
        q.push_frame(opcode::BINARY, b"x", true, 0, true).unwrap();
        keys.insert(parts(&q.pop().unwrap().frame).1.unwrap());
    }
    // 200 keys of 32 random bits: a repeat is a 5e-6 chance.
    assert!(keys.len() >= 199, "{} distinct keys", keys.len());
}

#[test]
fn full_queue_refuses_without_taking_a_number() {
    let q = OutQueue::new(3);
    for i in 1..=3 {
        assert_eq!(q.push_frame(opcode::BINARY, b"a", true, 0, true), Some(i));
    }
    assert!(!q.has_room());
    assert_eq!(q.push_frame(opcode::BINARY, b"b", true, 0, true), None);
    let own = OutMsg {
        frame: encode(opcode::BINARY, b"c", None),
        payload_len: 1,
        after: 0,
        seq: 0,
    };
    assert!(q.push(own, true).is_err());
    // A message taken out (even into the I/O thread's block) makes room.
    q.pop().unwrap();
    assert!(q.has_room());
    assert_eq!(q.push_frame(opcode::BINARY, b"d", true, 0, true), Some(4));
    assert_eq!(q.len(), 3);
}

#[test]
fn clear_counts_taken_and_open_messages() {
    let q = OutQueue::new(100);
    for _ in 0..5 {
        q.push_frame(opcode::BINARY, b"a", true, 0, true).unwrap();
    }
    q.pop().unwrap(); // the block of 5 is taken; 4 wait in it
    for _ in 0..3 {
        q.push_frame(opcode::BINARY, b"b", true, 0, true).unwrap();
    }
    assert_eq!(q.len(), 7);
    assert_eq!(q.clear(), 7);
    assert!(q.is_empty());
    assert!(q.pop().is_none());
    assert_eq!(q.push_frame(opcode::BINARY, b"c", true, 0, true), Some(9));
    assert_eq!(unmasked(&q.pop().unwrap().frame), b"c");
}

#[test]
fn own_and_large_frames_keep_their_order_among_block_frames() {
    let q = OutQueue::new(100);
    let big = payload(1, OWN_FRAME + 5);
    q.push_frame(opcode::BINARY, b"one", true, 0, true).unwrap();
    q.push_frame(opcode::BINARY, &big, true, 0, true).unwrap();
    let own = OutMsg {
        frame: encode(opcode::BINARY, b"own", None),
        payload_len: 3,
        after: 0,
        seq: 0,
    };
    assert_eq!(q.push(own, true).unwrap(), 3);
    q.push_frame(opcode::BINARY, b"four", true, 0, true)
        .unwrap();
    let got: Vec<(u64, Vec<u8>)> = std::iter::from_fn(|| q.pop())
        .map(|m| (m.seq, unmasked(&m.frame)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, b"one".to_vec()),
            (2, big),
            (3, b"own".to_vec()),
            (4, b"four".to_vec())
        ]
    );
}

#[test]
fn block_memory_is_reused_once_its_slices_are_gone() {
    let q = OutQueue::new(100_000);
    q.push_frame(opcode::BINARY, &[1; 100], true, 0, true)
        .unwrap();
    let first = q.pop().unwrap().frame; // dropped below: the block is free again
    let base = first.as_ptr();
    drop(first);
    // Fill the rest of the block and more: the next frames land in the same allocation.
    let mut reused = false;
    for _ in 0..2 * BLOCK / 100 {
        q.push_frame(opcode::BINARY, &[2; 100], true, 0, true)
            .unwrap();
        let f = q.pop().unwrap().frame;
        reused |= f.as_ptr() == base;
    }
    assert!(reused, "the block's start was used again");
}

#[test]
fn slices_survive_the_reuse_of_their_block() {
    let q = OutQueue::new(100_000);
    // Held slices (as a batch or acknowledgement window holds them) keep their bytes while
    // the queue goes on with new blocks.
    let mut held = Vec::new();
    for i in 0..3 * BLOCK / 100 {
        q.push_frame(opcode::BINARY, &payload(i, 100), true, 0, true)
            .unwrap();
        if i % 3 == 0 {
            q.pop().unwrap();
            while let Some(m) = q.pop() {
                held.push(m);
            }
        }
    }
    while let Some(m) = q.pop() {
        held.push(m);
    }
    assert_eq!(held.len(), 3 * BLOCK / 100 - (3 * BLOCK / 100).div_ceil(3));
    for m in &held {
        let p = unmasked(&m.frame);
        assert_eq!(p, payload(m.seq as usize - 1, 100), "message {}", m.seq);
    }
}

#[test]
fn a_burst_fills_new_blocks_without_moving_frames() {
    let q = OutQueue::new(100_000);
    // The I/O thread lags: 1 MiB queues up; full blocks are sealed as they are.
    for i in 0..1024 {
        q.push_frame(opcode::BINARY, &payload(i, 1000), true, 0, true)
            .unwrap();
    }
    {
        let o = lock(&q.open);
        assert!(
            o.sealed.len() >= 1024 * 1000 / BLOCK - 1,
            "{} sealed",
            o.sealed.len()
        );
        assert!(o.sealed.iter().all(|b| b.len() <= BLOCK));
        assert!(o.buf.capacity() <= BLOCK);
    }
    for i in 0..1024 {
        let m = q.pop().unwrap();
        assert_eq!(m.seq, i as u64 + 1);
        assert_eq!(unmasked(&m.frame), payload(i, 1000));
    }
    assert!(q.pop().is_none());
    // Then a message now and then: blocks shrink back and the big one is let go.
    for _ in 0..20 {
        q.push_frame(opcode::BINARY, b"x", true, 0, true).unwrap();
        q.pop().unwrap();
    }
    let o = lock(&q.open);
    assert_eq!(o.grow, MIN_BLOCK);
    assert!(o.alloc <= 2 * MIN_BLOCK, "{}", o.alloc);
}

#[test]
fn a_queue_sent_to_now_and_then_holds_a_small_block() {
    let q = OutQueue::new(100);
    for _ in 0..100 {
        q.push_frame(opcode::BINARY, &[7; 200], true, 0, true)
            .unwrap();
        q.pop().unwrap();
    }
    assert_eq!(lock(&q.open).alloc, MIN_BLOCK);
}

#[test]
fn producers_on_many_threads_lose_nothing() {
    let q = std::sync::Arc::new(OutQueue::new(1_000_000));
    let threads: Vec<_> = (0..4)
        .map(|t: u32| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..5000u32 {
                    let mut p = [0u8; 8];
                    p[..4].copy_from_slice(&t.to_be_bytes());
                    p[4..].copy_from_slice(&i.to_be_bytes());
                    q.push_frame(opcode::BINARY, &p, true, 0, true).unwrap();
                }
            })
        })
        .collect();
    let mut next = [0u32; 4];
    let mut seq = 0;
    let mut got = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while got < 20_000 {
        assert!(std::time::Instant::now() < deadline, "only {got} messages");
        let Some(m) = q.pop() else {
            std::thread::yield_now();
            continue;
        };
        got += 1;
        seq += 1;
        assert_eq!(m.seq, seq, "numbers follow the queue's order");
        let p = unmasked(&m.frame);
        let t = u32::from_be_bytes(p[..4].try_into().unwrap()) as usize;
        assert_eq!(u32::from_be_bytes(p[4..].try_into().unwrap()), next[t]);
        next[t] += 1;
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(q.pop().is_none());
}

#[test]
fn mask_keys_only_for_a_queue_that_masks() {
    let server = OutQueue::new(10);
    assert!(server
        .push_frame(opcode::TEXT, b"hello", false, 0, false)
        .is_some());
    assert!(server.pop().is_some());
    assert!(lock(&server.open).keys.is_none(), "a server never masks");
    let client = OutQueue::new(10);
    assert!(
        lock(&client.open).keys.is_none(),
        "nothing before the first frame"
    );
    assert!(client
        .push_frame(opcode::TEXT, b"hello", true, 0, true)
        .is_some());
    assert!(lock(&client.open).keys.is_some());
}

#[test]
fn queue_size_without_mask_keys() {
    // The queue is inline in every connection: the mask keys (256 bytes) must stay out of it.
    eprintln!("OutQueue: {} bytes", std::mem::size_of::<OutQueue>());
    assert!(
        std::mem::size_of::<OutQueue>() < 4 * KEYS,
        "OutQueue is {} bytes",
        std::mem::size_of::<OutQueue>()
    );
}
