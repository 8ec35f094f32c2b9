//! A connection's send queue (a client's lives as long as its context, across reconnects).
//! Callers push from any thread; the I/O thread pops. The queue is unbounded so that an idle
//! connection costs no preallocated slots; counters enforce the capacity.
//!
//! The counters are "ever accepted" and "ever taken out" rather than a length: accepting is one
//! compare-and-swap that both checks the capacity and gives the message its sequence number
//! (a client's numbers are its queue's accepted count), and taking out is a plain store, as the
//! I/O thread is the only consumer. A length counter plus a separate sequence counter cost two
//! atomic read-modify-writes per `ws_send` and one per message written (docs/bench.md,
//! "Against the runs before version 1.1").

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use crossbeam_queue::SegQueue;

/// One framed message waiting for a socket.
#[derive(Debug, Clone)]
pub struct OutMsg {
    /// The whole frame, header included.
    pub frame: Bytes,
    /// Payload length, for the byte counters.
    pub payload_len: usize,
    /// Server: the broadcast log's head when it was queued; it is written after the broadcasts
    /// before that point and before the later ones.
    pub after: u64,
    /// Client: its sequence number (see `sent_seq.rs`), given when the queue accepted it; 0 for
    /// a server's messages.
    pub seq: u64,
}

/// The queue plus the flags the I/O thread and callers exchange about it.
#[derive(Debug)]
pub struct OutQueue {
    items: SegQueue<OutMsg>,
    /// Messages ever accepted (a client's last sequence number given).
    pushed: AtomicU64,
    /// Messages ever taken out; written by the one consumer only (the I/O thread).
    popped: AtomicU64,
    cap: u64,
    /// Set when the I/O thread has been told to look at this queue and has not yet.
    pub scheduled: AtomicBool,
    /// Set by request_writable; cleared when on_writable is delivered.
    pub want_writable: AtomicBool,
    /// Set when the connection is gone: sends answer NotConnected.
    pub closed: AtomicBool,
}

impl OutQueue {
    /// An empty queue holding at most `cap` messages.
    pub fn new(cap: usize) -> Self {
        OutQueue {
            items: SegQueue::new(),
            pushed: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            cap: cap as u64,
            scheduled: AtomicBool::new(false),
            want_writable: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Queues `msg`, or gives it back when the queue is full. With `numbering` (a client) the
    /// message takes the next number as it takes its place, so a refused message uses none;
    /// answers the number (0 without `numbering`).
    pub fn push(&self, mut msg: OutMsg, numbering: bool) -> Result<u64, OutMsg> {
        let mut n = self.pushed.load(Ordering::Acquire);
        loop {
            // `n` may be older than `popped` (saturating: then it looks emptier, and the
            // exchange below fails and retries with the current count).
            if n.saturating_sub(self.popped.load(Ordering::Acquire)) >= self.cap {
                return Err(msg);
            }
            match self
                .pushed
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        if numbering {
            msg.seq = n + 1;
        }
        let seq = msg.seq;
        self.items.push(msg);
        Ok(seq)
    }

    /// Takes the oldest message. The I/O thread only (the one consumer).
    pub fn pop(&self) -> Option<OutMsg> {
        let m = self.items.pop()?;
        let popped = self.popped.load(Ordering::Relaxed);
        self.popped.store(popped + 1, Ordering::Release);
        Some(m)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        // `popped` first: it never passes `pushed`, so the later `pushed` is at least it.
        let popped = self.popped.load(Ordering::Acquire);
        (self.pushed.load(Ordering::Acquire) - popped) as usize
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a push would succeed now.
    pub fn has_room(&self) -> bool {
        (self.len() as u64) < self.cap
    }

    /// Removes everything, answering how many messages there were.
    pub fn clear(&self) -> u64 {
        let mut n = 0;
        while self.pop().is_some() {
            n += 1;
        }
        n
    }
}
