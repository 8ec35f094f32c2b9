//! One connection's state machine on the I/O thread. The I/O loop owns the sockets'
//! registrations and the bookkeeping across connections; this module owns what happens on one:
//! the `Conn` type, its phases, its deadlines (`on_timer`, keepalive pings included) and the
//! dispatch between its parts:
//! - `opening`: the opening handshake, client and server;
//! - `framing`: bytes in (read budgets, frames, pings answered);
//! - `writer`: bytes out (the write batch, its limits, the broadcast cursor, carry-over);
//! - `closing`: the closing handshake, lingering, and what is reported at the end;
//! - `budget`: the memory budget's accounting and the message timeout.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::Mode;
use super::frame::{self, opcode};
use super::parser::{Parser, Violation};
use super::queue::{OutMsg, OutQueue};
use super::shared::Shared;
use super::stream::{Stream, Transport};

mod acking;
mod budget;
mod closing;
mod compress;
mod direct;
mod framing;
mod opening;
mod writer;

pub use closing::Closing;

/// How long a closing handshake or a lingering close may take.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Frames taken from the queue into the write batch at most.
const BATCH_FRAMES: usize = 1024;
/// Bytes taken from the queue into the write batch at most.
const BATCH_BYTES: usize = 1 << 20;
/// Buffers handed to one writev.
const IOV: usize = 512;
/// Reads per wake-up before other connections get their turn.
const READ_BUDGET: usize = 16;
/// Bytes read per wake-up before other connections get their turn: one peer that sends as fast
/// as it can (a ping flood) gets its share of the I/O thread, not all of it.
const READ_BYTES_BUDGET: usize = 1 << 16;
/// An empty read buffer keeps at most this much capacity: every idle connection's buffer counts
/// against the memory budget.
const IDLE_INBUF: usize = 4 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Client: TCP connect in progress.
    Connecting,
    /// Client: connected to an HTTP proxy, CONNECT exchange in progress (`proxy.rs`; the loop
    /// drives it on the raw socket, before TLS).
    ProxyConnect,
    /// Client: request sent, waiting for the 101.
    ClientHandshake,
    /// Server: waiting for the request.
    ServerHandshake,
    /// WebSocket frames flow.
    Open,
    /// Server: writing a plain HTTP answer, then closing.
    HttpReply,
    /// Our last bytes are out and FIN sent; reading until the peer's EOF.
    Linger,
}

/// Why a connection ends.
#[derive(Debug)]
pub enum End {
    /// The peer closed TCP.
    Eof,
    /// A socket error.
    Io(io::Error),
    /// A deadline passed.
    Timeout(&'static str),
    /// The opening handshake failed.
    Handshake(String),
    /// Everything is said and done (closing handshake complete or HTTP answer written).
    Done,
}

impl End {
    /// A write that took no bytes although the socket was writable: the connection cannot go on.
    /// `write_vectored` answering 0 for a non-empty batch means the peer is gone for good, and
    /// retrying would spin.
    pub(super) fn write_zero() -> End {
        End::Io(io::Error::new(
            io::ErrorKind::WriteZero,
            "socket accepted no bytes",
        ))
    }
}

/// A frame in the write batch.
#[derive(Debug)]
pub struct Chunk {
    /// The bytes.
    pub data: Bytes,
    /// How much of them is written.
    pub off: usize,
    /// Payload length for data messages; None for control frames and HTTP.
    pub payload: Option<usize>,
    /// Client data message: its sequence number (see `sent_seq.rs`); 0 otherwise.
    pub seq: u64,
    /// Client: written before on a connection that ended unacknowledged (docs/acks.md); its
    /// next write counts in `messages_resent`.
    pub resend: bool,
    /// Client, compressed: the frame as queued, put back if the chunk is carried over to
    /// another connection (see `compress.rs`).
    pub plain: Option<Bytes>,
}

impl Chunk {
    /// The chunk as it goes to another connection: from its first byte, and uncompressed
    /// (a compressed frame belongs to this connection's compressor state).
    pub fn rewound(mut self) -> Chunk {
        self.off = 0;
        if let Some(p) = self.plain.take() {
            self.data = p;
        }
        self
    }
}

/// One connection.
pub struct Conn<S: Transport = Stream> {
    /// Its id (never reused in a context).
    pub id: u64,
    /// The transport.
    pub stream: S,
    /// The peer.
    pub peer: SocketAddr,
    /// Where it is.
    pub phase: Phase,
    /// Its send queue (a client's is the context's).
    pub queue: Arc<OutQueue>,
    /// The write batch.
    pub out: VecDeque<Chunk>,
    out_bytes: usize,
    inbuf: Vec<u8>,
    parser: Parser,
    /// Reading paused by the application.
    pub rx_paused: bool,
    /// The socket may have unread bytes (edge-triggered readiness was seen and not exhausted).
    pub read_hint: bool,
    /// The last read stopped at its budget with bytes possibly left: read again soon.
    pub more_to_read: bool,
    /// The last read stopped because manual dispatch is behind.
    pub held_back: bool,
    /// The socket accepted the last write in full.
    pub writable: bool,
    /// Close code we sent (queued or written), if any: what is reported once it ends.
    pub close_sent: Option<u16>,
    /// Close frame we received, if any.
    pub close_received: Option<(u16, String)>,
    /// What the closing handshake does next (see `Closing`).
    closing: Closing,
    handshake_deadline: Option<Instant>,
    close_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    /// The deadline the loop's timer heap holds for this connection.
    pub armed: Option<Instant>,
    key: String,
    /// on_connect was delivered (so on_close is owed).
    pub opened: bool,
    /// Set when the connection opened during the last service; the loop clears it.
    pub just_opened: bool,
    ping_count: u64,
    is_server: bool,
    /// The protocol violation that is closing this connection, if any.
    violation: Option<Violation>,
    /// Client: data frames an earlier connection did not write; they go first once this one opens.
    pub carry: VecDeque<Chunk>,
    /// Client over TLS: data frames reported written while OpenSSL still holds part of their
    /// batch; written once it is flushed, carried over if the connection drops first.
    unflushed: Vec<Chunk>,
    /// Data frames taken out of the batch because a close frame went ahead of them.
    withheld: Vec<Chunk>,
    /// Server, once open: the next broadcast this connection has to write.
    pub bcast: Option<u64>,
    /// Server: it asked for replay (`since`), so it is disconnected rather than skipped ahead
    /// when it falls behind (docs/replay.md).
    pub replay: bool,
    /// A message of its own that waits for the broadcasts queued before it.
    stash: Option<OutMsg>,
    /// Server: over max_connections; its request is answered with 503.
    pub refuse: bool,
    /// Bytes of `held()` counted in the context's budget total (`Shared::held`).
    accounted: usize,
    /// When the incoming message now incomplete must be complete.
    message_deadline: Option<Instant>,
    /// When the opening handshake completed.
    pub opened_at: Option<Instant>,
    /// Client with acknowledgements negotiated: written messages not yet acknowledged.
    tx_acks: Option<crate::engine::acks::window::Window<Chunk>>,
    /// Server with acknowledgements negotiated: the receiver's numbers.
    rx_acks: Option<acking::RxConn>,
    /// permessage-deflate was agreed: how data messages are sent (see `compress.rs`).
    outgoing: Option<compress::Outgoing>,
}

impl<S: Transport> Conn<S> {
    /// A new connection in `phase`.
    pub fn new(
        id: u64,
        stream: S,
        peer: SocketAddr,
        phase: Phase,
        queue: Arc<OutQueue>,
        shared: &Shared,
    ) -> Self {
        let c = &shared.config;
        Conn {
            id,
            stream,
            peer,
            phase,
            queue,
            out: VecDeque::new(),
            out_bytes: 0,
            inbuf: Vec::new(),
            parser: Parser::new(c.mode == Mode::Server, c.max_message_size),
            rx_paused: false,
            read_hint: true,
            more_to_read: false,
            held_back: false,
            writable: phase != Phase::Connecting,
            close_sent: None,
            close_received: None,
            closing: Closing::NotYet,
            handshake_deadline: Some(Instant::now() + c.handshake_timeout),
            close_deadline: None,
            next_ping: None,
            pong_deadline: None,
            armed: None,
            key: String::new(),
            opened: false,
            just_opened: false,
            ping_count: 0,
            is_server: c.mode == Mode::Server,
            violation: None,
            carry: VecDeque::new(),
            unflushed: Vec::new(),
            withheld: Vec::new(),
            bcast: None,
            replay: false,
            stash: None,
            refuse: false,
            accounted: 0,
            message_deadline: None,
            opened_at: None,
            tx_acks: None,
            rx_acks: None,
            outgoing: None,
        }
    }

    /// The earliest moment this connection needs attention without I/O.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.handshake_deadline,
            self.close_deadline,
            self.next_ping,
            self.pong_deadline,
            self.message_deadline,
            self.rx_acks.as_ref().and_then(|r| r.due),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles passed deadlines.
    pub fn on_timer(&mut self, now: Instant, shared: &Shared) -> Result<(), End> {
        if self.handshake_deadline.is_some_and(|d| d <= now) {
            return Err(End::Timeout("the opening handshake timed out"));
        }
        if self.close_deadline.is_some_and(|d| d <= now) {
            return Err(End::Done);
        }
        if self.pong_deadline.is_some_and(|d| d <= now) {
            return Err(End::Timeout(
                "no pong within pong_timeout: the peer is gone",
            ));
        }
        if self.message_deadline.is_some_and(|d| d <= now) {
            self.message_deadline = None;
            // Reading paused by the application since the last read is no fault of the peer's.
            if !self.rx_paused {
                self.give_up_input(
                    Violation {
                        code: 1008,
                        reason: "message incomplete after message_timeout",
                    },
                    shared,
                );
            }
        }
        if self
            .rx_acks
            .as_ref()
            .is_some_and(|r| r.due.is_some_and(|d| d <= now))
        {
            self.ack_round(now, false);
        }
        if self.next_ping.is_some_and(|d| d <= now) {
            let cfg = &shared.config;
            self.ping_count += 1;
            let mask = self.mask();
            // A ping of ours the peer has not taken yet is replaced, not repeated.
            self.push_control_coalesced(frame::encode(
                opcode::PING,
                &self.ping_count.to_be_bytes(),
                mask,
            ));
            if self.pong_deadline.is_none() {
                self.pong_deadline = Some(now + cfg.pong_timeout);
            }
            self.next_ping = Some(now + cfg.ping_interval);
        }
        Ok(())
    }

    /// Clients mask every frame they send; servers never do.
    pub(super) fn mask(&self) -> Option<[u8; 4]> {
        if self.is_server {
            None
        } else {
            Some(rand::random())
        }
    }
}

#[cfg(test)]
mod tests;
