//! State shared between the threads that call the API and the context's I/O thread: the send
//! queues, the wake-up path, counters and the flush condition.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Instant;

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::acks::receiver::RxAckTable;
use super::acks::AckMode;
use super::broadcast::BroadcastLog;
use super::broadcast_deflate::ServerDeflater;
use super::config::{Config, Mode};
use super::direct::Direct;
use super::manual::ManualEvents;
use super::queue::OutQueue;
use super::sent_seq::SentSeq;
use super::stats::Stats;

/// Requests from API threads that are not plain sends.
#[derive(Debug)]
pub enum Command {
    /// Pause (false) or resume (true) reading a connection.
    RxFlow(u64, bool),
    /// Start the closing handshake of a connection.
    Close(u64, u16, String),
    /// Drain until the deadline, close everything and stop the thread.
    Shutdown(Instant),
    /// Manual dispatch caught up: read the connections that were held back.
    ResumeStarved,
    /// Received messages of a connection became safe: acknowledge them (docs/acks.md).
    Ack(u64),
}

/// The shared half of a context.
pub struct Shared {
    /// The settings.
    pub config: Config,
    waker: mio::Waker,
    wake_pending: AtomicBool,
    commands_tx: Sender<Command>,
    /// Commands, read by the I/O thread.
    pub commands: Receiver<Command>,
    ready_tx: Sender<u64>,
    /// Ids of queues with news (data or a writable request), read by the I/O thread.
    pub ready: Receiver<u64>,
    /// Server: the open connections' queues.
    pub conns: RwLock<HashMap<u64, Arc<OutQueue>>>,
    /// Server: what ws_broadcast framed, written to each subscriber from its own cursor.
    pub bcast: BroadcastLog,
    /// Server with compression on: the compressor every deflate connection's messages share.
    pub deflate: Option<ServerDeflater>,
    /// Client: the context's queue, which outlives each connection.
    pub client_queue: Arc<OutQueue>,
    /// Client: id of the open connection, 0 when none.
    pub client_conn: AtomicU64,
    /// Client: which numbered messages are written (only the I/O thread locks it, once per
    /// write round).
    pub sent_seq: Mutex<SentSeq>,
    /// Client: the written prefix last reported through on_sent (I/O thread only).
    sent_reported: AtomicU64,
    /// Client with acknowledgements: which numbered messages the server acknowledged (only the
    /// I/O thread locks it).
    pub acked_seq: Mutex<SentSeq>,
    /// Client: the acknowledged prefix last reported through on_acked (I/O thread only).
    acked_reported: AtomicU64,
    /// Server with acknowledgements: the receiver's numbers of each connection.
    pub rx_acks: RxAckTable,
    /// Client: writing from the sending thread while the connection is idle (`direct.rs`).
    pub direct: Direct,
    /// Counters.
    pub stats: Stats,
    /// Cleared when shutdown starts: sends then answer Closed.
    pub accepting: AtomicBool,
    /// What shutdown left unsent.
    pub unsent: AtomicU64,
    /// Bytes the connections hold for incoming data (the memory budget's running total; the
    /// I/O thread keeps it exact and publishes it as `stats.buffered_bytes` once checked).
    pub held: AtomicUsize,
    /// Client with acknowledgements: bytes of written messages kept until acknowledged (the
    /// window's share of the budget; published in `stats.buffered_bytes` with `held`).
    pub kept: AtomicUsize,
    flush_lock: Mutex<()>,
    flush_cv: Condvar,
    flush_waiters: AtomicUsize,
    /// Manual dispatch state, when that mode is on.
    pub manual: Option<ManualEvents>,
    /// The bound port (server) or the configured one (client).
    pub local_port: u16,
    /// Peer address of each connection from its opening until its on_close is called (so under
    /// manual dispatch the application can still ask while handling the events that precede it).
    peers: Mutex<HashMap<u64, SocketAddr>>,
}

impl Shared {
    /// Shared state around a waker registered with the I/O thread's poll.
    pub fn new(
        config: Config,
        waker: mio::Waker,
        local_port: u16,
        manual: Option<ManualEvents>,
    ) -> Self {
        let (commands_tx, commands) = unbounded();
        let (ready_tx, ready) = unbounded();
        let cap = config.queue_capacity;
        let replay = config.replay;
        let acks = config.acks;
        // A client that offers acknowledgements keeps the queue even when the server declines
        // them: its written messages then count as acknowledged, which the I/O thread does.
        let direct = Direct::new(config.mode == Mode::Client && config.acks == AckMode::Off);
        let deflate = (config.mode == Mode::Server && config.compression > 0)
            .then(|| ServerDeflater::new(config.compression));
        Shared {
            config,
            waker,
            wake_pending: AtomicBool::new(false),
            commands_tx,
            commands,
            ready_tx,
            ready,
            conns: RwLock::new(HashMap::new()),
            bcast: BroadcastLog::with_retention(cap, replay),
            deflate,
            client_queue: Arc::new(OutQueue::new(cap)),
            client_conn: AtomicU64::new(0),
            sent_seq: Mutex::new(SentSeq::default()),
            sent_reported: AtomicU64::new(0),
            acked_seq: Mutex::new(SentSeq::default()),
            acked_reported: AtomicU64::new(0),
            rx_acks: RxAckTable::new(acks),
            direct,
            stats: Stats::default(),
            accepting: AtomicBool::new(true),
            unsent: AtomicU64::new(0),
            held: AtomicUsize::new(0),
            kept: AtomicUsize::new(0),
            flush_lock: Mutex::new(()),
            flush_cv: Condvar::new(),
            flush_waiters: AtomicUsize::new(0),
            manual,
            local_port,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// Wakes the I/O thread unless a wake-up is already on its way (one syscall per batch of
    /// sends, not per send).
    pub fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// Called by the I/O thread before it looks at commands and ready queues.
    pub fn woken(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
    }

    /// Sends a command to the I/O thread.
    pub fn command(&self, c: Command) {
        let _ = self.commands_tx.send(c);
        self.wake();
    }

    /// Tells the I/O thread that queue `id` has news, once until it looks.
    ///
    /// A plain load first: while the flag is set (the I/O thread has not looked yet) a send
    /// costs no atomic read-modify-write here. Nothing is missed: a message is pushed under the
    /// queue's lock, and the I/O thread clears the flag before it takes the queue's block under
    /// that lock, so a sender that still sees the flag set either pushed before that take (its
    /// message is taken) or sees a later sender's set flag, whose wake-up leads to another take.
    pub fn schedule(&self, id: u64, q: &OutQueue) {
        if !q.scheduled.load(Ordering::SeqCst) && !q.scheduled.swap(true, Ordering::SeqCst) {
            let _ = self.ready_tx.send(id);
            self.wake();
        }
    }

    /// The read lock on the server's connection table (never poisoned for readers).
    pub fn conns_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<OutQueue>>> {
        self.conns.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The write lock on the server's connection table.
    pub fn conns_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Arc<OutQueue>>> {
        self.conns.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until nothing is queued or `deadline` passes; answers whether it emptied.
    pub fn wait_flushed(&self, deadline: Instant) -> bool {
        let queued = || self.stats.messages_queued.load(Ordering::SeqCst);
        if queued() == 0 {
            return true;
        }
        self.flush_waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.flush_lock.lock().unwrap_or_else(|e| e.into_inner());
        let emptied = loop {
            if queued() == 0 {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            guard = self
                .flush_cv
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(guard);
        self.flush_waiters.fetch_sub(1, Ordering::SeqCst);
        emptied
    }

    /// Called by the I/O thread when the queued count may have reached zero.
    pub fn notify_flushed(&self) {
        if self.flush_waiters.load(Ordering::SeqCst) > 0
            && self.stats.messages_queued.load(Ordering::SeqCst) == 0
        {
            let _g = self.flush_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.flush_cv.notify_all();
        }
    }

    /// Remembers the peer of a connection that opened.
    pub fn peer_opened(&self, id: u64, addr: SocketAddr) {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, addr);
    }

    /// Forgets the peer (and its acknowledgement numbers) as the connection's on_close is about
    /// to be called.
    pub fn peer_closed(&self, id: u64) {
        self.rx_acks.closed(id);
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The peer of a connection, until its on_close is called.
    pub fn peer(&self, id: u64) -> Option<SocketAddr> {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }

    /// Whether accepted messages are numbered: a client's are (by its queue, which lives as
    /// long as the context, so the numbers count every message the context accepted); a
    /// server's are not.
    pub fn numbering(&self) -> bool {
        self.config.mode == Mode::Client
    }

    /// Client: the written prefix of the sequence numbers (`messages_sent_seq`, which the
    /// writer publishes) if it grew since the last call; what `on_sent` reports. Called by the
    /// I/O thread only.
    pub fn take_sent_report(&self) -> Option<u64> {
        let now = self.stats.messages_sent_seq.load(Ordering::Acquire);
        (now > self.sent_reported.load(Ordering::Relaxed)).then(|| {
            self.sent_reported.store(now, Ordering::Relaxed);
            now
        })
    }

    /// Client with acknowledgements: the acknowledged prefix (`messages_acked_seq`) if it grew
    /// since the last call; what `on_acked` reports. Called by the I/O thread only.
    pub fn take_acked_report(&self) -> Option<u64> {
        let now = self.stats.messages_acked_seq.load(Ordering::Acquire);
        (now > self.acked_reported.load(Ordering::Relaxed)).then(|| {
            self.acked_reported.store(now, Ordering::Relaxed);
            now
        })
    }

    /// What input (`held`) may take of `max_buffered_bytes`: all of it less what a client
    /// keeps for acknowledgements, of which at most half counts (the window stops growing at
    /// half the budget, so input always keeps the other half, and a message larger than that
    /// alone in the window never makes the budget close the connection that must send it).
    pub fn input_budget(&self) -> usize {
        let max = self.config.max_buffered_bytes;
        max - self.kept.load(Ordering::Relaxed).min(max / 2)
    }

    /// Records that `n` accepted messages will never be written.
    pub fn dropped(&self, n: u64) {
        if n > 0 {
            self.stats.messages_queued.fetch_sub(n, Ordering::SeqCst);
            self.stats.messages_dropped.fetch_add(n, Ordering::Relaxed);
            self.notify_flushed();
        }
    }
}
