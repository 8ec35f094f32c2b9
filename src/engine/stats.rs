//! Counters shared by the I/O thread and callers of `stats()`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters; see `Snapshot` for their meaning.
#[derive(Debug, Default)]
pub struct Stats {
    /// Open connections.
    pub connections_current: AtomicU64,
    /// Connections opened so far.
    pub connections_total: AtomicU64,
    /// Client connection attempts after the first.
    pub reconnects: AtomicU64,
    /// Messages written to a socket.
    pub messages_sent: AtomicU64,
    /// Their payload bytes.
    pub bytes_sent: AtomicU64,
    /// Messages delivered to the handler.
    pub messages_received: AtomicU64,
    /// Their payload bytes.
    pub bytes_received: AtomicU64,
    /// Accepted, not yet written.
    pub messages_queued: AtomicU64,
    /// Dropped by a documented policy.
    pub messages_dropped: AtomicU64,
    /// Sends refused with QueueFull.
    pub send_rejected: AtomicU64,
    /// Errors reported.
    pub errors: AtomicU64,
    /// Server: handshakes answered with an HTTP refusal.
    pub handshakes_refused: AtomicU64,
    /// Bytes held for incomplete incoming messages and read buffers (published by the I/O
    /// thread after each round's budget check).
    pub buffered_bytes: AtomicU64,
    /// Client: every message numbered up to this one is written.
    pub messages_sent_seq: AtomicU64,
    /// Client: every message numbered up to this one is acknowledged by the server.
    pub messages_acked_seq: AtomicU64,
    /// Client: messages written again after a reconnect because they were not acknowledged.
    pub messages_resent: AtomicU64,
    /// Open connections that negotiated permessage-deflate.
    pub connections_compressed: AtomicU64,
    /// Client: messages written from the sending thread (`direct.rs`).
    pub messages_written_direct: AtomicU64,
    /// Client: direct writes the socket took in part or not at all.
    pub direct_writes_unfinished: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Open connections.
    pub connections_current: u64,
    /// Connections opened so far.
    pub connections_total: u64,
    /// Client connection attempts after the first.
    pub reconnects: u64,
    /// Messages written to a socket (a broadcast counts once per subscriber).
    pub messages_sent: u64,
    /// Their payload bytes.
    pub bytes_sent: u64,
    /// Messages delivered to the handler.
    pub messages_received: u64,
    /// Their payload bytes.
    pub bytes_received: u64,
    /// Accepted, not yet written to a socket.
    pub messages_queued: u64,
    /// Dropped by a documented policy (slow subscriber, connection closed, destroy timeout).
    pub messages_dropped: u64,
    /// Sends refused with QueueFull.
    pub send_rejected: u64,
    /// Errors reported through on_error.
    pub errors: u64,
    /// Server: handshakes answered with an HTTP refusal (4xx or 5xx) instead of 101.
    pub handshakes_refused: u64,
    /// Bytes held now for incomplete incoming messages and read buffers, across connections
    /// (bounded by `max_buffered_bytes`; with permessage-deflate also the connections' codecs),
    /// plus a server's broadcasts retained for replay (both lanes) and a client's written
    /// messages kept until acknowledged (docs/acks.md; uncompressed).
    pub buffered_bytes: u64,
    /// Client: every message accepted with a sequence number up to this one (see
    /// `Context::send_seq`) is written completely to the socket; 0 before the first.
    pub messages_sent_seq: u64,
    /// Client with acknowledgements: every message accepted with a sequence number up to this
    /// one is acknowledged by the server (docs/acks.md); 0 before the first.
    pub messages_acked_seq: u64,
    /// Client with acknowledgements: messages written again on a later connection because the
    /// earlier one ended before the server acknowledged them (the duplicates the server may
    /// see; each is also counted in `messages_sent`).
    pub messages_resent: u64,
    /// Open connections that negotiated permessage-deflate (RFC 7692).
    pub connections_compressed: u64,
    /// Client: of `messages_sent`, those written completely by the thread that sent them
    /// (plain TCP, the connection idle: no wake-up of the I/O thread); the others went through
    /// the queue. Never counts over TLS, with compression or with acknowledgements.
    pub messages_written_direct: u64,
    /// Client: sends whose direct write the socket took only in part, or not at all (full
    /// socket, or an error the I/O thread then met): the I/O thread finished them, first.
    pub direct_writes_unfinished: u64,
}

impl Stats {
    /// Adds one to a counter.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections_current: self.connections_current.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            messages_sent: self.messages_sent.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            messages_received: self.messages_received.load(Relaxed),
            bytes_received: self.bytes_received.load(Relaxed),
            messages_queued: self.messages_queued.load(Relaxed),
            messages_dropped: self.messages_dropped.load(Relaxed),
            send_rejected: self.send_rejected.load(Relaxed),
            errors: self.errors.load(Relaxed),
            handshakes_refused: self.handshakes_refused.load(Relaxed),
            buffered_bytes: self.buffered_bytes.load(Relaxed),
            messages_sent_seq: self.messages_sent_seq.load(Relaxed),
            messages_acked_seq: self.messages_acked_seq.load(Relaxed),
            messages_resent: self.messages_resent.load(Relaxed),
            connections_compressed: self.connections_compressed.load(Relaxed),
            messages_written_direct: self.messages_written_direct.load(Relaxed),
            direct_writes_unfinished: self.direct_writes_unfinished.load(Relaxed),
        }
    }
}
