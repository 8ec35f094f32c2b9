//! One connection's state machine on the I/O thread: opening handshake, frames in, frames out,
//! closing handshake, keepalive deadlines. The I/O loop owns the sockets' registrations and the
//! bookkeeping across connections; this file owns what happens on one.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::access;
use super::broadcast::LogView;
use super::config::Mode;
use super::error::{Error, ErrorKind};
use super::frame::{self, opcode};
use super::handshake::{self, ServerReply, MAX_HEAD};
use super::log::Level;
use super::parser::{self, reserve_stepped, Incoming, Parser, Violation};
use super::queue::{OutMsg, OutQueue};
use super::shared::Shared;
use super::sink::Sink;
use super::stream::Stream;
use crate::ws_log;

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

/// A frame in the write batch.
#[derive(Debug)]
pub struct Chunk {
    /// The bytes.
    pub data: Bytes,
    /// How much of them is written.
    pub off: usize,
    /// Payload length for data messages; None for control frames and HTTP.
    pub payload: Option<usize>,
}

/// One connection.
pub struct Conn {
    /// Its id (never reused in a context).
    pub id: u64,
    /// The transport.
    pub stream: Stream,
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
    /// Close code we sent, if any.
    pub close_sent: Option<u16>,
    /// Close frame we received, if any.
    pub close_received: Option<(u16, String)>,
    /// A close we will send once the queue is written (application or shutdown).
    close_requested: Option<(u16, String)>,
    shut_after_write: bool,
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
    /// Data frames taken out of the batch because a close frame went ahead of them.
    withheld: Vec<Chunk>,
    /// Server, once open: the next broadcast this connection has to write.
    pub bcast: Option<u64>,
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
}

impl Conn {
    /// A new connection in `phase`.
    pub fn new(
        id: u64,
        stream: Stream,
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
            close_requested: None,
            shut_after_write: false,
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
            withheld: Vec::new(),
            bcast: None,
            stash: None,
            refuse: false,
            accounted: 0,
            message_deadline: None,
            opened_at: None,
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
    fn mask(&self) -> Option<[u8; 4]> {
        if self.is_server {
            None
        } else {
            Some(rand::random())
        }
    }

    /// Puts a control frame (or HTTP bytes) ahead of queued data, after any partly written frame
    /// and after control frames already waiting. Control frames waiting are few (at most one
    /// ping and one pong, thanks to `push_control_coalesced`, a close, an HTTP head), so the
    /// walk is O(1).
    pub fn push_control(&mut self, data: Bytes) {
        let mut i = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        while i < self.out.len() && self.out[i].payload.is_none() {
            i += 1;
        }
        self.out_bytes += data.len();
        self.out.insert(
            i,
            Chunk {
                data,
                off: 0,
                payload: None,
            },
        );
    }

    /// Queues a ping or pong, replacing one of the same opcode that waits unwritten: RFC 6455
    /// 5.5.3 lets an endpoint answer only the most recent ping, so a peer that floods pings and
    /// reads nothing costs one pending pong, not a queue of them.
    fn push_control_coalesced(&mut self, data: Bytes) {
        let first = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        let same = self
            .out
            .iter_mut()
            .skip(first)
            .take_while(|c| c.payload.is_none())
            .find(|c| c.off == 0 && c.data.first() == data.first());
        match same {
            Some(c) => {
                self.out_bytes = self.out_bytes - c.data.len() + data.len();
                c.data = data;
            }
            None => self.push_control(data),
        }
    }

    /// Bytes this connection holds for incoming data: its read buffer and the message being
    /// reassembled (capacities: what the allocator really holds).
    pub fn held(&self) -> usize {
        self.inbuf.capacity() + self.parser.buffered()
    }

    /// Brings this connection's share of the context's budget total up to date; answers the
    /// total.
    pub fn account(&mut self, shared: &Shared) -> usize {
        let now = self.held();
        if now >= self.accounted {
            shared
                .held
                .fetch_add(now - self.accounted, Ordering::Relaxed);
        } else {
            shared
                .held
                .fetch_sub(self.accounted - now, Ordering::Relaxed);
        }
        self.accounted = now;
        shared.held.load(Ordering::Relaxed)
    }

    /// Takes this connection's share out of the budget total (it is being removed).
    pub fn unaccount(&mut self, shared: &Shared) {
        shared.held.fetch_sub(self.accounted, Ordering::Relaxed);
        self.accounted = 0;
    }

    /// Closes with `v` (1008 for the budget and the message timeout) and frees what the
    /// connection held for incoming data at once: nothing more it sends is kept.
    pub fn give_up_input(&mut self, v: Violation, shared: &Shared) {
        if self.violation.is_none() && self.close_received.is_none() {
            self.fail(v);
        }
        self.parser.discard();
        self.inbuf = Vec::new();
        self.message_deadline = None;
        self.account(shared);
    }

    /// Starts or stops the message timeout: it runs while an incoming message is incomplete (a
    /// fragmented message, or a frame whose bytes stopped arriving) and the application is not
    /// the one holding reading back.
    fn track_message(&mut self, shared: &Shared) {
        let incomplete = self.phase == Phase::Open
            && self.violation.is_none()
            && self.close_received.is_none()
            && !self.rx_paused
            && !self.held_back
            && (self.parser.in_message() || !self.inbuf.is_empty());
        let limit = shared.config.message_timeout;
        if !incomplete || limit.is_zero() {
            self.message_deadline = None;
        } else if self.message_deadline.is_none() {
            self.message_deadline = Some(Instant::now() + limit);
        }
    }

    /// Data chunks not yet (fully) written, in order, rewound to their start: what an earlier
    /// connection handed over, then the batch.
    pub fn take_unsent_data(&mut self) -> Vec<Chunk> {
        let carried = self.carry.drain(..);
        let batch = self.out.drain(..).filter(|c| c.payload.is_some());
        let withheld = self.withheld.drain(..);
        let stashed = self.stash.take().map(|m| Chunk {
            data: m.frame,
            off: 0,
            payload: Some(m.payload_len),
        });
        carried
            .chain(batch)
            .chain(withheld)
            .chain(stashed)
            .map(|mut c| {
                c.off = 0;
                c
            })
            .collect()
    }

    /// Whether any accepted message is still held by this connection.
    pub fn has_unsent_data(&self) -> bool {
        !self.carry.is_empty()
            || !self.withheld.is_empty()
            || self.stash.is_some()
            || self.out.iter().any(|c| c.payload.is_some())
    }

    /// Asks for a closing handshake after what is queued is written. A peer that does not read
    /// can block that forever, so the connection ends after `within` whatever happens.
    pub fn request_close(&mut self, code: u16, reason: &str, within: Duration) {
        if self.close_sent.is_some() || self.close_requested.is_some() {
            return;
        }
        self.close_requested = Some((code, reason.to_string()));
        let limit = Instant::now() + within;
        self.close_deadline = Some(self.close_deadline.map_or(limit, |d| d.min(limit)));
    }

    /// At destroy with no time left: writes a close frame ahead of the unsent data if the socket
    /// takes it now. The unsent data stays in the batch for the caller to account for.
    pub fn last_word(&mut self, code: u16, reason: &str, shared: &Shared, log: &LogView) {
        if !self.opened || self.close_sent.is_some() || self.out.front().is_some_and(|c| c.off > 0)
        {
            return;
        }
        let data = self.take_unsent_data();
        self.send_close_now(code, &frame::close_payload(code, reason));
        let _ = self.write(shared, log);
        self.out.extend(data);
    }

    /// Starts the client's opening handshake once TCP is connected.
    pub fn start_client_handshake(&mut self, shared: &Shared) {
        let c = &shared.config;
        self.key = tungstenite::handshake::client::generate_key();
        let req = handshake::client_request(
            &c.address,
            c.port,
            c.tls,
            &c.path,
            c.protocol.as_deref(),
            &c.headers,
            &self.key,
        );
        self.phase = Phase::ClientHandshake;
        self.push_control(Bytes::from(req));
    }

    /// Reads and handles what the socket has, within a budget.
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<(), End> {
        let r = self.read_inner(scratch, sink, shared);
        self.track_message(shared);
        r
    }

    fn read_inner(
        &mut self,
        scratch: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<(), End> {
        self.more_to_read = false;
        self.held_back = false;
        let mut read_bytes = 0;
        for _ in 0..READ_BUDGET {
            if read_bytes >= READ_BYTES_BUDGET {
                break;
            }
            if self.rx_paused || !self.read_hint {
                return Ok(());
            }
            if sink.backlog_full() {
                self.held_back = true;
                return Ok(());
            }
            if !self.writable && self.pong_waiting() {
                // The peer does not take the answers to its own pings: it is read no more until
                // it does, like any slow peer, so a ping flood costs it its own socket buffer and
                // not our time. Keepalive ends it. A writable event resumes reading (read_hint
                // is still set). Only pongs stop reading: a peer busy writing a large message
                // while ours wait (our ping, our close) is still read, so neither side blocks
                // the other.
                return Ok(());
            }
            let room = (READ_BYTES_BUDGET - read_bytes).min(scratch.len());
            let n = match self.stream.read(&mut scratch[..room]) {
                Ok(0) => return Err(End::Eof),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.read_hint = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(End::Io(e)),
            };
            read_bytes += n;
            let mut start = 0;
            if !self.inbuf.is_empty() && self.phase == Phase::Open {
                // Complete the frame held back from the last read with just the bytes it lacks,
                // so the rest of this read is parsed where it lies instead of being copied.
                while !self.inbuf.is_empty() && start < n && !self.rx_paused {
                    let want = match parser::frame_len(&self.inbuf) {
                        Some(total) => total.saturating_sub(self.inbuf.len()).max(1),
                        None => frame::MAX_HEADER.saturating_sub(self.inbuf.len()).max(1),
                    };
                    let take = want.min(n - start);
                    reserve_stepped(&mut self.inbuf, take);
                    self.inbuf.extend_from_slice(&scratch[start..start + take]);
                    start += take;
                    self.consume_inbuf(sink, shared)?;
                }
            }
            if start < n {
                if self.inbuf.is_empty() {
                    let used = start + self.consume(&mut scratch[start..n], sink, shared)?;
                    if used < n {
                        reserve_stepped(&mut self.inbuf, n - used);
                        self.inbuf.extend_from_slice(&scratch[used..n]);
                    }
                } else {
                    reserve_stepped(&mut self.inbuf, n - start);
                    self.inbuf.extend_from_slice(&scratch[start..n]);
                    self.consume_inbuf(sink, shared)?;
                }
            }
            if self.account(shared) > shared.config.max_buffered_bytes {
                // Over the budget: the loop closes the largest holder before anyone reads on
                // (this connection goes on in the next round if it is not the one).
                break;
            }
        }
        self.more_to_read = self.read_hint && !self.rx_paused;
        Ok(())
    }

    /// Handles bytes held back earlier (after a pause, or a frame that arrived in pieces).
    pub fn consume_inbuf(&mut self, sink: &mut Sink, shared: &Shared) -> Result<(), End> {
        if self.inbuf.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.inbuf);
        let r = self.consume(&mut buf, sink, shared);
        if let Ok(used) = r {
            buf.drain(..used);
        }
        if buf.is_empty() && buf.capacity() > IDLE_INBUF {
            buf = Vec::new();
        }
        self.inbuf = buf;
        r.map(|_| ())
    }

    /// Handles bytes according to the phase; answers how many were used (the rest waits for more).
    fn consume(&mut self, buf: &mut [u8], sink: &mut Sink, shared: &Shared) -> Result<usize, End> {
        match self.phase {
            Phase::ServerHandshake => self.server_handshake(buf, sink, shared),
            Phase::ClientHandshake => self.client_handshake(buf, sink, shared),
            Phase::Open => self.frames(buf, sink, shared),
            Phase::Connecting | Phase::HttpReply | Phase::Linger => Ok(buf.len()),
        }
    }

    /// Where the HTTP head in `buf` ends, once complete; an error when it is (or will be)
    /// larger than MAX_HEAD however its bytes arrived (one write or many).
    fn head(&self, buf: &[u8]) -> Result<Option<usize>, End> {
        // Only the first MAX_HEAD bytes can hold an acceptable head: the scan stays bounded.
        match handshake::head_end(&buf[..buf.len().min(MAX_HEAD)]) {
            Some(n) if n <= MAX_HEAD => Ok(Some(n)),
            None if buf.len() < MAX_HEAD => Ok(None),
            _ => Err(End::Handshake("HTTP head larger than 16 KiB".into())),
        }
    }

    fn opened_now(&mut self, sink: &mut Sink, shared: &Shared) {
        self.phase = Phase::Open;
        self.handshake_deadline = None;
        self.opened = true;
        self.opened_at = Some(Instant::now());
        self.just_opened = true;
        for c in self.carry.drain(..) {
            self.out_bytes += c.data.len();
            self.out.push_back(c);
        }
        if !shared.config.ping_interval.is_zero() {
            self.next_ping = Some(Instant::now() + shared.config.ping_interval);
        }
        shared.peer_opened(self.id, self.peer);
        let st = &shared.stats;
        st.connections_current.fetch_add(1, Ordering::Relaxed);
        st.connections_total.fetch_add(1, Ordering::Relaxed);
        sink.connect(self.id);
    }

    fn server_handshake(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        if !shared.config.tls && buf.first() == Some(&0x16) {
            // A TLS ClientHello (record type 22) on a plain port: refuse now rather than let the
            // client wait for a reply until the handshake timeout.
            return Err(End::Handshake(
                "TLS handshake received on a plain ws:// port".into(),
            ));
        }
        let end = match self.head(buf) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(0),
            Err(_) => {
                ws_log!(
                    Level::Info,
                    "refused handshake from {}: HTTP head larger than 16 KiB",
                    self.peer
                );
                self.http_reply(handshake::head_too_large());
                return Ok(buf.len());
            }
        };
        // Behind a trusted reverse proxy, the client is the one its headers name: from here on
        // (access rules, filter, logs, ws_peer_address) the peer is that client.
        self.peer = shared
            .config
            .trusted_proxies
            .client_address(self.peer, &buf[..end]);
        if self.refuse {
            shared
                .stats
                .handshakes_refused
                .fetch_add(1, Ordering::Relaxed);
            self.http_reply(handshake::too_many_connections());
            return Ok(buf.len());
        }
        let c = &shared.config;
        let peer = self.peer;
        let admit = |path: &str, query: &str, headers: &[httparse::Header<'_>]| {
            c.access.check(&access::Request {
                path,
                query,
                peer,
                headers,
            })
        };
        match handshake::server_reply(
            &buf[..end],
            &c.path,
            c.protocol.as_deref(),
            c.index_html.is_some(),
            &admit,
        ) {
            ServerReply::Accept(resp) => {
                self.push_control(Bytes::from(resp));
                self.bcast = Some(shared.bcast.subscribe());
                shared.conns_write().insert(self.id, self.queue.clone());
                self.opened_now(sink, shared);
                Ok(end + self.frames(&mut buf[end..], sink, shared)?)
            }
            ServerReply::ServeIndex => {
                let path = c.index_html.as_ref().expect("checked by server_reply");
                let resp = match std::fs::read(path) {
                    Ok(body) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    Err(e) => {
                        ws_log!(
                            Level::Error,
                            "cannot read index_html {}: {e}",
                            path.display()
                        );
                        handshake::http_response(
                            "500 Internal Server Error",
                            "",
                            "index page unavailable\n",
                        )
                    }
                };
                self.http_reply(resp);
                Ok(buf.len())
            }
            ServerReply::Refuse(resp, why) => {
                shared
                    .stats
                    .handshakes_refused
                    .fetch_add(1, Ordering::Relaxed);
                ws_log!(Level::Info, "refused handshake from {}: {why}", self.peer);
                self.http_reply(resp);
                Ok(buf.len())
            }
        }
    }

    fn http_reply(&mut self, resp: Vec<u8>) {
        self.phase = Phase::HttpReply;
        self.handshake_deadline = None;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        self.shut_after_write = true;
        self.push_control(Bytes::from(resp));
    }

    fn client_handshake(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        let Some(end) = self.head(buf)? else {
            return Ok(0);
        };
        handshake::check_response(&buf[..end], &self.key, shared.config.protocol.as_deref())
            .map_err(End::Handshake)?;
        shared.client_conn.store(self.id, Ordering::Release);
        self.opened_now(sink, shared);
        Ok(end + self.frames(&mut buf[end..], sink, shared)?)
    }

    fn frames(&mut self, buf: &mut [u8], sink: &mut Sink, shared: &Shared) -> Result<usize, End> {
        let mut pos = 0;
        while pos < buf.len() && !self.rx_paused {
            if self.close_received.is_some()
                || self.violation.is_some()
                || self.phase != Phase::Open
            {
                return Ok(buf.len());
            }
            enum Next {
                Go,
                Pause,
                Pong(Vec<u8>),
                Close(u16, String),
            }
            let next = match self.parser.next(&mut buf[pos..]) {
                Err(v) => {
                    self.fail(v);
                    return Ok(buf.len());
                }
                Ok((0, _)) => break,
                Ok((used, ev)) => {
                    pos += used;
                    match ev {
                        None | Some(Incoming::Pong) => {
                            if matches!(ev, Some(Incoming::Pong)) {
                                self.pong_deadline = None;
                            }
                            Next::Go
                        }
                        Some(Incoming::Ping(p)) => Next::Pong(p.to_vec()),
                        Some(Incoming::Close(code, reason)) => {
                            Next::Close(code, reason.to_string())
                        }
                        Some(Incoming::Message(kind, data)) => {
                            shared
                                .stats
                                .messages_received
                                .fetch_add(1, Ordering::Relaxed);
                            shared
                                .stats
                                .bytes_received
                                .fetch_add(data.len() as u64, Ordering::Relaxed);
                            if sink.receive(self.id, data, kind) {
                                Next::Pause
                            } else {
                                Next::Go
                            }
                        }
                    }
                }
            };
            match next {
                Next::Go => {}
                Next::Pause => self.rx_paused = true,
                Next::Pong(p) => self.answer_ping(&p)?,
                Next::Close(code, reason) => {
                    self.close_received = Some((code, reason));
                    if self.close_sent.is_some() {
                        return Err(End::Done);
                    }
                    let payload = if code == 1005 {
                        Vec::new()
                    } else {
                        frame::close_payload(code, "")
                    };
                    self.send_close_now(if code == 1005 { 1000 } else { code }, &payload);
                    return Ok(buf.len());
                }
            }
        }
        // A reassembled message is handled: its buffer is not kept (nor counted) while idle.
        self.parser.release_done();
        Ok(pos)
    }

    /// Answers a ping. A pong still waiting is written first while the socket takes it, so a
    /// peer that reads gets a pong for every ping; once the socket is full (the peer does not
    /// read), the waiting pong is replaced by this one: at most one pong waits (RFC 6455 5.5.3
    /// allows answering only the most recent ping), and reading stops until the peer reads.
    fn answer_ping(&mut self, payload: &[u8]) -> Result<(), End> {
        if self.close_sent.is_some() {
            return Ok(());
        }
        if self.writable && self.pong_waiting() {
            self.flush_control()?;
        }
        let mask = self.mask();
        self.push_control_coalesced(frame::encode(opcode::PONG, payload, mask));
        Ok(())
    }

    /// Whether an unwritten pong is among the control frames at the front of the batch (a few
    /// at most: O(1)).
    fn pong_waiting(&self) -> bool {
        self.out
            .iter()
            .take_while(|c| c.payload.is_none() || c.off > 0)
            .any(|c| c.off == 0 && c.data.first() == Some(&(0x80 | opcode::PONG)))
    }

    /// Writes the control frames at the front of the batch now, as far as the socket takes
    /// them (nothing when a data frame is partly written, or a TLS batch that may hold data is
    /// pending: the control frames wait for the regular write and may be coalesced).
    fn flush_control(&mut self) -> Result<(), End> {
        if self.stream.write_pending() {
            return Ok(());
        }
        while self.writable {
            let mut iov = [IoSlice::new(&[]); 8];
            let mut n = 0;
            for c in self.out.iter().take_while(|c| c.payload.is_none()).take(8) {
                iov[n] = IoSlice::new(&c.data[c.off..]);
                n += 1;
            }
            if n == 0 {
                return Ok(());
            }
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => {
                    return Err(End::Io(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "socket accepted no bytes",
                    )))
                }
                Ok(mut w) => {
                    while w > 0 {
                        let Some(c) = self.out.front_mut() else { break };
                        let take = w.min(c.data.len() - c.off);
                        c.off += take;
                        w -= take;
                        self.out_bytes = self.out_bytes.saturating_sub(take);
                        if c.off == c.data.len() {
                            self.out.pop_front();
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(End::Io(e)),
            }
        }
        Ok(())
    }

    /// Answers a protocol violation: a close frame with its code goes out, further input is
    /// ignored, and the connection ends once the frame is written (see `linger`).
    fn fail(&mut self, v: Violation) {
        if self.close_sent.is_none() {
            let payload = frame::close_payload(v.code, v.reason);
            self.send_close_now(v.code, &payload);
        }
        self.violation = Some(v);
    }

    /// Sends a close frame as soon as the frame being written is complete. Data frames still in
    /// the batch must not follow a close frame: they are withheld (a client sends them on its
    /// next connection, a server counts them as dropped).
    fn send_close_now(&mut self, code: u16, payload: &[u8]) {
        let keep = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        let rest = self.out.split_off(keep.min(self.out.len()));
        for c in rest {
            if c.payload.is_some() {
                self.out_bytes = self.out_bytes.saturating_sub(c.data.len());
                self.withheld.push(c);
            } else {
                self.out.push_back(c);
            }
        }
        let mask = self.mask();
        self.push_control(frame::encode(opcode::CLOSE, payload, mask));
        self.close_sent = Some(code);
        self.shut_after_write = true;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        self.next_ping = None;
        self.pong_deadline = None;
    }

    /// Moves queued messages into the batch; answers whether nothing more of the queue may go
    /// before the broadcasts still to write (the queue is empty, or its next message waits for
    /// them).
    fn refill(&mut self) -> bool {
        while self.out.len() < BATCH_FRAMES && self.out_bytes < BATCH_BYTES {
            let Some(m) = self.stash.take().or_else(|| self.queue.pop()) else {
                return true;
            };
            if self.bcast.is_some_and(|cur| m.after > cur) {
                self.stash = Some(m);
                return true;
            }
            self.out_bytes += m.frame.len();
            self.out.push_back(Chunk {
                data: m.frame,
                off: 0,
                payload: Some(m.payload_len),
            });
        }
        false
    }

    fn may_send_data(&self) -> bool {
        self.phase == Phase::Open && self.close_sent.is_none() && self.close_received.is_none()
    }

    /// Whether every message accepted for this connection is in the batch or written.
    fn nothing_waiting(&self, shared: &Shared) -> bool {
        self.queue.is_empty()
            && self.stash.is_none()
            && !matches!(self.bcast, Some(cur) if cur < shared.bcast.head())
    }

    /// Writes the batch, refilling it from the queue and the broadcast log, until the socket is
    /// full or all is out.
    pub fn write(&mut self, shared: &Shared, log: &LogView) -> Result<(), End> {
        let mut sent = 0u64;
        let mut bytes = 0u64;
        let r = self.write_inner(shared, log, &mut sent, &mut bytes);
        if sent > 0 {
            let st = &shared.stats;
            st.messages_sent.fetch_add(sent, Ordering::Relaxed);
            st.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
            st.messages_queued.fetch_sub(sent, Ordering::SeqCst);
            shared.notify_flushed();
        }
        r
    }

    fn write_inner(
        &mut self,
        shared: &Shared,
        log: &LogView,
        sent: &mut u64,
        bytes: &mut u64,
    ) -> Result<(), End> {
        loop {
            if !self.writable {
                return Ok(());
            }
            // Broadcasts from the cursor up to `log_to` follow the batch in this write.
            let mut log_to = None;
            if self.may_send_data() {
                if self.refill() {
                    if let Some(cur) = self.bcast {
                        let to = self
                            .stash
                            .as_ref()
                            .map_or(log.head(), |m| m.after.min(log.head()));
                        log_to = (to > cur).then_some((cur, to));
                    }
                }
                if self.out.is_empty() && log_to.is_none() && self.nothing_waiting(shared) {
                    if let Some((code, reason)) = self.close_requested.take() {
                        let payload = frame::close_payload(code, &reason);
                        let mask = self.mask();
                        self.push_control(frame::encode(opcode::CLOSE, &payload, mask));
                        self.close_sent = Some(code);
                        let limit = Instant::now() + CLOSE_TIMEOUT;
                        self.close_deadline =
                            Some(self.close_deadline.map_or(limit, |d| d.min(limit)));
                        self.next_ping = None;
                    }
                }
            }
            if self.out.is_empty() && log_to.is_none() {
                if self.shut_after_write && self.phase != Phase::Linger {
                    self.linger();
                }
                return Ok(());
            }
            let mut iov = [IoSlice::new(&[]); IOV];
            let mut n = 0;
            for c in self.out.iter().take(IOV) {
                iov[n] = IoSlice::new(&c.data[c.off..]);
                n += 1;
            }
            if let Some((cur, to)) = log_to {
                if n < IOV {
                    n += log.slices(cur, to, &mut iov[n..]);
                }
            }
            if n == 0 {
                // The log no longer holds the cursor's messages: the slow policy deals with
                // that at the next sync.
                return Ok(());
            }
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => {
                    return Err(End::Io(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "socket accepted no bytes",
                    )))
                }
                Ok(mut w) => {
                    while w > 0 {
                        let Some(c) = self.out.front_mut() else { break };
                        let rem = c.data.len() - c.off;
                        if w >= rem {
                            w -= rem;
                            if let Some(p) = c.payload {
                                *sent += 1;
                                *bytes += p as u64;
                            }
                            self.out_bytes = self.out_bytes.saturating_sub(rem);
                            self.out.pop_front();
                        } else {
                            c.off += w;
                            self.out_bytes = self.out_bytes.saturating_sub(w);
                            w = 0;
                        }
                    }
                    if let (true, Some((cur, _))) = (w > 0, log_to) {
                        let a = log.advance(cur, w);
                        *sent += a.messages;
                        *bytes += a.payload_bytes;
                        self.bcast = Some(a.cursor);
                        if let Some(p) = a.partial {
                            self.out_bytes += p.frame.len() - p.written;
                            self.out.push_front(Chunk {
                                data: p.frame,
                                off: p.written,
                                payload: Some(p.payload),
                            });
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(End::Io(e)),
            }
        }
    }

    /// Our last bytes are written: send FIN and read until the peer's EOF (closing at once
    /// could reset the connection and destroy the close frame in flight).
    fn linger(&mut self) {
        self.stream.shutdown_write();
        self.phase = Phase::Linger;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        self.handshake_deadline = None;
        self.next_ping = None;
        self.pong_deadline = None;
    }

    /// The close code and reason to report, given why the connection ended.
    pub fn close_status(&self, end: &End) -> (u16, String) {
        if let Some((code, reason)) = &self.close_received {
            return (*code, reason.clone());
        }
        if let Some(v) = &self.violation {
            return (v.code, v.reason.to_string());
        }
        // A close we sent, or one we could not send because the peer stopped reading.
        match self
            .close_sent
            .or(self.close_requested.as_ref().map(|r| r.0))
        {
            Some(code) if matches!(end, End::Done | End::Eof) => (code, String::new()),
            _ => (1006, String::new()),
        }
    }

    /// The error to report for `end`, if it is one.
    pub fn error_of(&self, end: &End) -> Option<Error> {
        let peer = self.peer;
        if let Some(v) = &self.violation {
            // 1008 is our policy (memory budget, message timeout), not a fault of the peer's.
            let what = if v.code == 1008 {
                "was closed by policy"
            } else {
                "broke the protocol"
            };
            return Some(Error::new(
                ErrorKind::Io,
                format!("{peer} {what}: {} (closed with {})", v.reason, v.code),
            ));
        }
        if matches!(end, End::Io(_))
            && self.phase == Phase::Linger
            && self.close_sent.is_some()
            && self.close_received.is_some()
        {
            // Both close frames are through: nothing can be lost any more, and what the peer's
            // transport says now is no error. (An OpenSSL 3 peer that reads our FIN without a
            // close_notify answers with a decode_error alert.)
            return None;
        }
        match end {
            End::Eof
                if self.close_sent.is_none()
                    && self.close_received.is_none()
                    && self.phase != Phase::Linger =>
            {
                Some(Error::new(
                    ErrorKind::Io,
                    format!("{peer} closed the connection without a close frame"),
                ))
            }
            End::Eof | End::Done => None,
            End::Io(e) if super::tls::is_failure(e) => Some(Error::new(
                ErrorKind::Tls,
                format!("TLS with {peer} failed: {e}"),
            )),
            End::Io(e) => Some(Error::io(&format!("connection with {peer}"), e)),
            End::Timeout(what) => Some(Error::new(ErrorKind::Timeout, format!("{peer}: {what}"))),
            End::Handshake(why) => Some(Error::new(
                ErrorKind::Io,
                format!("handshake with {peer} failed: {why}"),
            )),
        }
    }
}
