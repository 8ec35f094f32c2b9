//! A connection's send queue (a client's lives as long as its context, across reconnects).
//! Callers push from any thread; the I/O thread pops.
//!
//! No allocation and no queue node per message: a caller encodes its frame (header and masked
//! payload) straight into the queue's open block, one growing `BytesMut` shared by every
//! message queued since the I/O thread last looked, and adds a small record (where the frame
//! ends, its payload length, ordering and sequence number). The I/O thread takes the whole open
//! block at once (`split().freeze()`) and hands out each frame as a `Bytes::slice` of it, a
//! reference count rather than an allocation; once every slice of a block is written and
//! dropped, the next frames reuse its memory (`try_reclaim`), so allocation is amortised to
//! zero. A block that fills up before the I/O thread takes it is sealed as it is (its frames
//! stay where they are: never copied into a larger block) and the next frames go to a new one,
//! so a burst costs one allocation per `BLOCK` bytes, freed once its frames are written. docs/bench.md ("The send path without per-message allocation") has the measurements.
//!
//! Two mutexes, both short and nearly uncontended: `open` (producers append, the I/O thread
//! swaps the block out about once per write round) and `taken` (the I/O thread only; a mutex
//! rather than an unchecked cell because the engine has no `unsafe`). The counters are "ever
//! accepted" and "ever taken out", so `len` and `has_room` read two atomics and take no lock.
//!
//! Large frames (`OWN_FRAME` and more) are encoded outside the lock into a buffer of their own,
//! as before: copying a megabyte under the lock would stall other senders, and a large frame
//! kept for acknowledgement would pin a block around it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use super::frame::{self, MAX_HEADER};
use super::frame_into::encode_into;

/// Frames of at least this many payload bytes get a buffer of their own (see the top).
const OWN_FRAME: usize = 16 * 1024;
/// The largest new block: a few hundred small messages per allocation when nothing can be
/// reused.
const BLOCK: usize = 64 * 1024;
/// The first block's size. Blocks double (up to `BLOCK`) each time one fills before the I/O
/// thread takes it and halve when the I/O thread takes little, so a connection sent to now and
/// then (a server's connection, thousands of them) holds a few KiB, not `BLOCK`.
const MIN_BLOCK: usize = 4 * 1024;
/// A record list that grew beyond this many records (a burst the I/O thread took in one go)
/// goes back to this size once taken: 16,384 records are 1.2 MiB, and a list dropped whole
/// each time would be grown again by copying (measured: 57 instructions per message while
/// a sender outran its socket).
const KEEP_RECORDS: usize = 16384;
/// Mask keys drawn from the generator per refill.
const KEYS: usize = 64;

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

/// A message in a block: its frame is `start..end` of block number `block` of its batch, or
/// `own`.
#[derive(Debug)]
struct Rec {
    block: usize,
    start: usize,
    end: usize,
    own: Option<Bytes>,
    payload_len: usize,
    after: u64,
    seq: u64,
}

/// Mask keys for a client's frames. RFC 6455 10.3 wants them unpredictable to the peer's
/// application: they come from `rand::rng()` (ChaCha12 seeded from the operating system and
/// reseeded, a CSPRNG), drawn `KEYS` at a time so the generator's per-call cost is shared.
#[derive(Debug)]
struct MaskKeys {
    bytes: [u8; 4 * KEYS],
    next: usize,
}

impl MaskKeys {
    fn new() -> Self {
        MaskKeys {
            bytes: [0; 4 * KEYS],
            next: 4 * KEYS,
        }
    }

    fn next(&mut self) -> [u8; 4] {
        if self.next == self.bytes.len() {
            rand::Rng::fill(&mut rand::rng(), &mut self.bytes[..]);
            self.next = 0;
        }
        let i = self.next;
        self.next += 4;
        [
            self.bytes[i],
            self.bytes[i + 1],
            self.bytes[i + 2],
            self.bytes[i + 3],
        ]
    }
}

/// What producers append to.
#[derive(Debug)]
struct Open {
    /// The block frames are appended to (block number `sealed.len()` of the batch).
    buf: BytesMut,
    /// Blocks that filled up since the I/O thread last took the batch.
    sealed: Vec<Bytes>,
    /// Capacity `buf` was allocated with (a `BytesMut` only tells what is left of it).
    alloc: usize,
    /// The size of the next new block (`MIN_BLOCK` to `BLOCK`).
    grow: usize,
    recs: Vec<Rec>,
    /// A client's mask keys, allocated at its first masked frame: a server's queue (thousands
    /// of idle connections) never masks, so it does not pay for the 260 bytes.
    keys: Option<Box<MaskKeys>>,
}

impl Open {
    /// Makes room for `need` (at most `BLOCK`) more bytes in `buf`: a full block is sealed,
    /// and an empty one reuses its allocation when every slice of it is gone (no copy: nothing
    /// is in it), else a new block is allocated.
    fn room(&mut self, need: usize) {
        if self.buf.capacity() - self.buf.len() >= need {
            return;
        }
        if !self.buf.is_empty() {
            self.sealed.push(self.buf.split().freeze());
            // Filled before the I/O thread came: bigger blocks, fewer allocations.
            self.grow = (2 * self.grow).min(BLOCK);
        }
        if self.alloc > 2 * self.grow || !self.buf.try_reclaim(need) {
            self.buf = BytesMut::with_capacity(self.grow.max(need));
            self.alloc = self.buf.capacity();
        }
    }
}

/// The block the I/O thread took last and its records not yet popped.
#[derive(Debug)]
struct Taken {
    blocks: Vec<Bytes>,
    recs: Vec<Rec>,
    next: usize,
}

/// The queue plus the flags the I/O thread and callers exchange about it.
#[derive(Debug)]
pub struct OutQueue {
    open: Mutex<Open>,
    taken: Mutex<Taken>,
    /// Messages ever accepted (a client's last sequence number given); written under `open`.
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl OutQueue {
    /// An empty queue holding at most `cap` messages.
    pub fn new(cap: usize) -> Self {
        OutQueue {
            open: Mutex::new(Open {
                buf: BytesMut::new(),
                sealed: Vec::new(),
                alloc: 0,
                grow: MIN_BLOCK,
                recs: Vec::new(),
                keys: None,
            }),
            taken: Mutex::new(Taken {
                blocks: Vec::new(),
                recs: Vec::new(),
                next: 0,
            }),
            pushed: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            cap: cap as u64,
            scheduled: AtomicBool::new(false),
            want_writable: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Under `open`: counts one more message if there is room; answers its number.
    fn admit(&self) -> Option<u64> {
        let n = self.pushed.load(Ordering::Relaxed);
        if n - self.popped.load(Ordering::Acquire) >= self.cap {
            return None;
        }
        self.pushed.store(n + 1, Ordering::Release);
        Some(n + 1)
    }

    /// Frames and queues a final data frame `op` carrying `payload`, masked with a fresh key
    /// when `masked` (a client), or answers `None` when the queue is full. `after` is a server
    /// message's place among the broadcasts (see `OutMsg`). With `numbering` (a client) the
    /// message takes the next number as it takes its place, so a refused message uses none;
    /// answers the number (0 without `numbering`).
    pub fn push_frame(
        &self,
        op: u8,
        payload: &[u8],
        masked: bool,
        after: u64,
        numbering: bool,
    ) -> Option<u64> {
        if payload.len() >= OWN_FRAME {
            let mask = masked.then(rand::random::<[u8; 4]>);
            let msg = OutMsg {
                frame: frame::encode(op, payload, mask),
                payload_len: payload.len(),
                after,
                seq: 0,
            };
            return self.push(msg, numbering).ok();
        }
        let mut o = lock(&self.open);
        let n = self.admit()?;
        let mask = masked.then(|| {
            o.keys
                .get_or_insert_with(|| Box::new(MaskKeys::new()))
                .next()
        });
        o.room(MAX_HEADER + payload.len());
        let start = o.buf.len();
        let end = start + encode_into(&mut o.buf, op, payload, mask);
        let seq = if numbering { n } else { 0 };
        let block = o.sealed.len();
        o.recs.push(Rec {
            block,
            start,
            end,
            own: None,
            payload_len: payload.len(),
            after,
            seq,
        });
        Some(seq)
    }

    /// Queues a frame built elsewhere, or gives it back when the queue is full. With
    /// `numbering` (a client) the message takes the next number as it takes its place, so a
    /// refused message uses none; answers the number (0 without `numbering`).
    pub fn push(&self, msg: OutMsg, numbering: bool) -> Result<u64, OutMsg> {
        let mut o = lock(&self.open);
        let Some(n) = self.admit() else {
            return Err(msg);
        };
        let seq = if numbering { n } else { msg.seq };
        o.recs.push(Rec {
            block: 0,
            start: 0,
            end: 0,
            own: Some(msg.frame),
            payload_len: msg.payload_len,
            after: msg.after,
            seq,
        });
        Ok(seq)
    }

    /// Moves the open block and its records to `t` (which is used up); answers whether there
    /// was anything.
    fn take(&self, t: &mut Taken) -> bool {
        let mut o = lock(&self.open);
        if o.recs.is_empty() {
            return false;
        }
        t.recs.clear();
        std::mem::swap(&mut t.recs, &mut o.recs);
        t.next = 0;
        t.blocks.clear();
        std::mem::swap(&mut t.blocks, &mut o.sealed);
        let last = o.buf.split().freeze();
        let taken = last.len() + t.blocks.iter().map(Bytes::len).sum::<usize>();
        t.blocks.push(last);
        if taken < o.grow / 4 {
            // Little traffic: smaller blocks, and a block much larger than that is let go
            // (freed once its frames are written) rather than kept by an idle queue.
            o.grow = (o.grow / 2).max(MIN_BLOCK);
            if o.alloc > 2 * o.grow {
                o.buf = BytesMut::new();
                o.alloc = 0;
            }
        }
        if o.recs.capacity() > KEEP_RECORDS {
            o.recs = Vec::with_capacity(KEEP_RECORDS);
        }
        true
    }

    /// Takes the oldest message. The I/O thread only (the one consumer).
    pub fn pop(&self) -> Option<OutMsg> {
        let mut guard = lock(&self.taken);
        let t = &mut *guard;
        if t.next == t.recs.len() && !self.take(t) {
            return None;
        }
        let r = &mut t.recs[t.next];
        t.next += 1;
        let frame = match r.own.take() {
            Some(f) => f,
            None => {
                if r.block > 0 {
                    // The blocks before are all handed out: their memory may go.
                    t.blocks[r.block - 1] = Bytes::new();
                }
                t.blocks[r.block].slice(r.start..r.end)
            }
        };
        let m = OutMsg {
            frame,
            payload_len: r.payload_len,
            after: r.after,
            seq: r.seq,
        };
        if t.next == t.recs.len() {
            // The last of the batch is out: the blocks' memory is free for reuse once the
            // slices handed out are written.
            t.blocks.clear();
        }
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

    /// Removes everything, answering how many messages there were. The I/O thread only.
    pub fn clear(&self) -> u64 {
        let mut t = lock(&self.taken);
        let mut n = (t.recs.len() - t.next) as u64;
        t.recs.clear();
        t.next = 0;
        t.blocks.clear();
        {
            let mut o = lock(&self.open);
            n += o.recs.len() as u64;
            o.recs.clear();
            o.sealed.clear();
            o.buf.clear();
        }
        let popped = self.popped.load(Ordering::Relaxed);
        self.popped.store(popped + n, Ordering::Release);
        n
    }
}

#[cfg(test)]
mod tests;
