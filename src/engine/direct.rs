//! Client: writing a message from the thread that sends it, when the connection is idle.
//!
//! The queued path costs a wake-up per message at low and moderate rates: `send` queues the
//! frame and wakes the I/O thread (an eventfd write), whose epoll wait returns, and only then is
//! the frame written. At 100,000 msg/s that wake-up is most of the median latency
//! (docs/bench.md). Here the sending thread writes the frame itself with one non-blocking
//! `send(2)` when nothing else can be in the way:
//!
//! - The **write token** is a mutex the I/O thread holds whenever it is not waiting in poll.
//!   Every byte it writes to a connection (data, control frames, the closing handshake) and
//!   every socket it closes is therefore written or closed while a sending thread cannot write.
//!   Before it waits, the I/O thread publishes the client connection's descriptor when that
//!   connection is idle (`Conn::direct_fd`: plain TCP, open, no close sent or received, no
//!   compression, nothing in its batch, nothing carried over, the socket writable) and lets go
//!   of the token; a client that offers acknowledgements never does (declined, they make each
//!   written message count as acknowledged, which is the I/O thread's bookkeeping); when it wakes it takes the token back first, clearing
//!   the descriptor.
//! - A sending thread that finds the token free (`try_lock`: it never waits) and a descriptor
//!   published queues its message as usual (same sequence number, same `messages_queued`), then
//!   takes the oldest message out of the queue (the I/O thread, the queue's usual consumer, is
//!   waiting in poll meanwhile, so there is one consumer at a time) and writes it. Written in
//!   full: it is counted exactly as the I/O thread counts a message (`messages_sent`,
//!   `bytes_sent`, the written prefix of `sent_seq.rs`, `messages_queued`, flush waiters).
//!   Written in part, or not at all (EAGAIN, an error): the message, with how much of it is
//!   written, stays in the token's slot, the descriptor is withdrawn, and the I/O thread is woken;
//!   it puts the message at the front of the connection's batch before anything else
//!   (`Conn::take_back_direct`), so frames never interleave and order holds, and meets the
//!   error itself if there was one. Nothing is lost: a message is in the kernel or queued.
//! - **Under load the queue takes over**: sends less than `GAP` apart, or meeting the I/O
//!   thread at work, form a run, of which only the first `RUN` go direct; the rest queue (a tight loop of sends would otherwise cost one
//!   system call per message instead of one writev per batch), and while the I/O thread is busy
//!   it holds the token. Paced sends, and short bursts between pauses (a sender whose sleeps
//!   overshoot), go direct.
//!
//! `on_sent` is still delivered by the I/O thread: with `report_sent` the sender schedules it
//! after a direct write (at most one wake-up pending, as for queued messages). A server never
//! takes this path (its messages are ordered against the broadcast log by the I/O thread).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use super::error::Result;
use super::queue::{OutMsg, OutQueue};
use super::shared::Shared;
use super::stats::Stats;
use super::sys;

/// Sends that follow the end of the previous send by less than this form a run (a tight loop);
/// a longer pause ends the run. At 100,000 msg/s a paced sender pauses about 7 µs between
/// direct writes, so each message starts a run of its own.
const GAP: Duration = Duration::from_micros(3);

/// Direct writes per run at most: a burst of a few messages still goes out without a
/// wake-up; a sender that keeps going is better served by the I/O thread's batches (one writev
/// for up to 1024 frames, scenario 1 of docs/bench.md) than by a system call per message.
const RUN: u32 = 16;

/// What the token guards: the descriptor the sending threads may write to, and the message one
/// of them could not finish.
#[derive(Debug, Default)]
struct Slot {
    /// The idle connection's socket, published by the I/O thread while it waits in poll.
    fd: Option<RawFd>,
    /// A message a sending thread wrote in part (or not at all), with the bytes written.
    partial: Option<(OutMsg, usize)>,
}

/// The direct path's state, one per context (see the module's documentation).
#[derive(Debug)]
pub struct Direct {
    /// Whether this context may write directly at all (a client that offers no acknowledgements).
    on: bool,
    /// A hint read without the token: a descriptor is published.
    idle: AtomicBool,
    /// The write token.
    slot: Mutex<Slot>,
    /// When the last send ended, CLOCK_MONOTONIC in nanoseconds (see `GAP`).
    last: AtomicU64,
    /// Direct writes in the current run (see `RUN`).
    run: AtomicU32,
    /// A send met the I/O thread at work since the last look: the run goes on.
    busy: AtomicBool,
}

/// The I/O thread's hold on the write token (None while it waits in poll).
pub struct WriteToken<'a>(Option<MutexGuard<'a, Slot>>);

impl Direct {
    /// The state of a context: `on` for a client that offers no acknowledgements.
    pub fn new(on: bool) -> Self {
        Direct {
            on,
            idle: AtomicBool::new(false),
            slot: Mutex::new(Slot::default()),
            last: AtomicU64::new(0),
            run: AtomicU32::new(0),
            busy: AtomicBool::new(false),
        }
    }

    fn now_ns(&self) -> u64 {
        sys::monotonic_ns()
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The I/O thread, as it starts: takes the token (it holds it whenever it is not waiting).
    pub fn hold(&self) -> WriteToken<'_> {
        WriteToken(Some(self.lock()))
    }

    /// The I/O thread, about to wait in poll: with `fd` (the client connection is idle), lets
    /// sending threads write to it until `resume`. Without, keeps the token.
    pub fn wait(&self, token: &mut WriteToken<'_>, fd: Option<RawFd>) {
        let (true, Some(fd)) = (self.on, fd) else {
            return;
        };
        if let Some(mut g) = token.0.take() {
            g.fd = Some(fd);
            drop(g);
            self.idle.store(true, Ordering::Release);
        }
    }

    /// The I/O thread, back from poll: takes the token back (waiting for a write in progress)
    /// and answers the message a sending thread left partly written, which goes first.
    pub fn resume<'a>(&'a self, token: &mut WriteToken<'a>) -> Option<(OutMsg, usize)> {
        if token.0.is_some() {
            return None;
        }
        let mut g = self.lock();
        self.idle.store(false, Ordering::Relaxed);
        g.fd = None;
        let partial = g.partial.take();
        token.0 = Some(g);
        partial
    }

    /// A sending thread: if the connection is idle, queues the message with `push` (the first
    /// half of `Context::push`), takes the oldest message back out and writes it now, answering
    /// `push`'s answer (its sequence number or its refusal); otherwise does nothing and answers
    /// None, for the message to be queued as usual (`id`, `q`: the connection's queue). See the
    /// module's documentation.
    pub fn send(
        &self,
        shared: &Shared,
        id: u64,
        q: &OutQueue,
        push: impl FnOnce() -> Result<u64>,
    ) -> Option<Result<u64>> {
        if !self.on {
            return None;
        }
        if !self.idle.load(Ordering::Acquire) {
            // The I/O thread is at work: whatever the pauses, the run goes on (no clock read:
            // this is the hot path of a sender that keeps it busy).
            if !self.busy.load(Ordering::Relaxed) {
                self.busy.store(true, Ordering::Relaxed);
            }
            return None;
        }
        // Runs and pauses (see `GAP`, `RUN`): approximate with several senders, which only
        // moves a message between the two paths.
        let now = self.now_ns();
        let last = self.last.swap(now, Ordering::Relaxed);
        let busy = self.busy.load(Ordering::Relaxed);
        if busy {
            self.busy.store(false, Ordering::Relaxed);
        } else if now.saturating_sub(last) >= GAP.as_nanos() as u64 {
            self.run.store(0, Ordering::Relaxed);
        }
        if self.run.load(Ordering::Relaxed) >= RUN {
            return None;
        }
        let mut g = match self.slot.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => return None,
        };
        let fd = g.fd?;
        // Queued exactly as `Context::push` does (`push` is its first half), so the number and
        // the counters are the queue's; a full queue refuses it there.
        let seq = match push() {
            Ok(seq) => seq,
            Err(e) => return Some(Err(e)),
        };
        // The oldest message: ours, or one another thread queued just before.
        let Some(m) = q.pop() else {
            drop(g);
            shared.schedule(id, q);
            return Some(Ok(seq));
        };
        let r = loop {
            match sys::send_nosignal(fd, &m.frame) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                r => break r,
            }
        };
        match r {
            Ok(n) if n == m.frame.len() => {
                drop(g);
                self.run.fetch_add(1, Ordering::Relaxed);
                written(shared, &m);
                if shared.config.report_sent || !q.is_empty() {
                    // on_sent is the I/O thread's to deliver; what others queued meanwhile too.
                    shared.schedule(id, q);
                }
                // The pause before the next send counts from the end of this one.
                self.last.store(self.now_ns(), Ordering::Relaxed);
            }
            r => {
                // The rest (an error: all of it) is the I/O thread's to write, first; it meets
                // the error, if any, itself.
                g.fd = None;
                self.idle.store(false, Ordering::Relaxed);
                g.partial = Some((m, r.unwrap_or(0)));
                drop(g);
                Stats::inc(&shared.stats.direct_writes_unfinished);
                shared.schedule(id, q);
            }
        }
        Some(Ok(seq))
    }
}

impl Direct {
    /// A sending thread queues its message with `push` instead (see `send`). When that push is
    /// what wakes the I/O thread (the queue was not scheduled), the pause before the next send
    /// counts from after the wake-up's system call: a tight loop that pays one must not look
    /// like a sender pausing between messages.
    pub fn queue<T>(&self, q: &OutQueue, push: impl FnOnce() -> T) -> T {
        if !self.on {
            return push();
        }
        let wakes = !q.scheduled.load(Ordering::Relaxed);
        let r = push();
        if wakes {
            self.last.store(self.now_ns(), Ordering::Relaxed);
        }
        r
    }
}

/// A message written completely from a sending thread: counted as `Conn::write` counts one.
fn written(shared: &Shared, m: &OutMsg) {
    let st = &shared.stats;
    {
        let mut t = shared.sent_seq.lock().unwrap_or_else(|e| e.into_inner());
        t.written(m.seq);
        st.messages_sent_seq.store(t.upto(), Ordering::Release);
    }
    st.messages_sent.fetch_add(1, Ordering::Relaxed);
    st.bytes_sent
        .fetch_add(m.payload_len as u64, Ordering::Relaxed);
    st.messages_written_direct.fetch_add(1, Ordering::Relaxed);
    st.messages_queued.fetch_sub(1, Ordering::SeqCst);
    shared.notify_flushed();
}
