//! A connection's send queue (a client's lives as long as its context, across reconnects).
//! Callers push from any thread; the I/O thread pops. The queue is unbounded so that an idle
//! connection costs no preallocated slots; a counter enforces the capacity.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

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
    len: AtomicUsize,
    cap: usize,
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
            len: AtomicUsize::new(0),
            cap,
            scheduled: AtomicBool::new(false),
            want_writable: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Queues `msg`, or gives it back when the queue is full. With `numbering` (a client's
    /// count of accepted messages) the message takes the next number once it has its place,
    /// so a refused message uses none; answers the number (0 without `numbering`).
    pub fn push(&self, mut msg: OutMsg, numbering: Option<&AtomicU64>) -> Result<u64, OutMsg> {
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.cap {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(msg);
        }
        if let Some(n) = numbering {
            msg.seq = n.fetch_add(1, Ordering::AcqRel) + 1;
        }
        let seq = msg.seq;
        self.items.push(msg);
        Ok(seq)
    }

    /// Takes the oldest message.
    pub fn pop(&self) -> Option<OutMsg> {
        let m = self.items.pop()?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(m)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a push would succeed now.
    pub fn has_room(&self) -> bool {
        self.len() < self.cap
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
