//! Unit tests of the connection state machine, run without sockets: a `Conn` over `Mem`, an
//! in-memory byte stream whose write side takes a configurable number of bytes (to make partial
//! writes and "would block" happen where a test wants them). Time is driven with explicit
//! `Instant`s where the code takes one (`on_timer`); deadlines the code sets from the clock are
//! checked with margins of seconds, never by sleeping.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::{Conn, End, Phase};
use crate::engine::broadcast::LogView;
use crate::engine::config::{Config, Mode};
use crate::engine::error::Error;
use crate::engine::event::{Handler, MsgKind};
use crate::engine::frame::{self, opcode};
use crate::engine::queue::{OutMsg, OutQueue};
use crate::engine::shared::Shared;
use crate::engine::sink::Sink;
use crate::engine::stream::Transport;

mod acking;
mod budget;
mod closing;
mod keepalive;
mod opening;
mod reading;
mod sent_seq;
mod writing;

/// An in-memory byte stream: what the peer sent (`input`, then `eof`), what we wrote (`wire`).
#[derive(Debug, Default)]
pub struct Mem {
    /// Bytes the peer sent that we have not read.
    pub input: VecDeque<u8>,
    /// The peer closed after `input`.
    pub eof: bool,
    /// Everything written to the peer, in order.
    pub wire: Vec<u8>,
    /// Bytes the write side takes before answering WouldBlock (a socket buffer's free space).
    pub room: usize,
    /// Bytes one write call takes at most.
    pub max_write: usize,
    /// How many non-empty buffers each write call was given.
    pub slices: Vec<usize>,
    /// FIN was sent.
    pub fin: bool,
    /// What `write_pending` answers: set to play a TLS stream whose batch OpenSSL has not
    /// flushed yet.
    pub pending: bool,
}

impl Mem {
    /// A stream whose write side takes everything.
    pub fn new() -> Self {
        Mem {
            room: usize::MAX,
            max_write: usize::MAX,
            ..Mem::default()
        }
    }

    /// Takes what was written so far.
    pub fn take_wire(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.wire)
    }
}

impl Transport for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.input.len());
        for (b, x) in buf.iter_mut().zip(self.input.drain(..n)) {
            *b = x;
        }
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        assert!(!self.fin, "a write after FIN");
        self.slices
            .push(bufs.iter().filter(|b| !b.is_empty()).count());
        let mut left = self.room.min(self.max_write);
        if left == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(left);
            self.wire.extend_from_slice(&b[..take]);
            n += take;
            left -= take;
            if left == 0 {
                break;
            }
        }
        self.room -= n;
        Ok(n)
    }

    fn write_pending(&self) -> bool {
        self.pending
    }

    fn shutdown_write(&mut self) {
        self.fin = true;
    }
}

/// What the handler was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    Connect(u64),
    Receive(u64, Vec<u8>, MsgKind),
}

struct Recorder(Arc<Mutex<Vec<Told>>>);

impl Handler for Recorder {
    fn on_connect(&mut self, conn: u64) {
        self.0.lock().unwrap().push(Told::Connect(conn));
    }
    fn on_receive(&mut self, conn: u64, data: &[u8], kind: MsgKind) -> bool {
        self.0
            .lock()
            .unwrap()
            .push(Told::Receive(conn, data.to_vec(), kind));
        false
    }
    fn on_writable(&mut self, _: u64) {}
    fn on_close(&mut self, _: u64, _: u16, _: &str) {}
    fn on_error(&mut self, _: u64, _: &Error) {}
}

/// A context's shared state and event outlet around one connection, without an I/O thread.
pub struct Rig {
    pub shared: Arc<Shared>,
    pub sink: Sink,
    pub log: LogView,
    pub told: Arc<Mutex<Vec<Told>>>,
    pub scratch: Vec<u8>,
    pub conn: Conn<Mem>,
    _poll: mio::Poll,
}

/// The peer's address: a value only, no socket is made.
fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

impl Rig {
    /// A connection of `config`'s mode in `phase` (not yet open).
    pub fn new(config: Config, phase: Phase) -> Rig {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        let shared = Arc::new(Shared::new(config, waker, 0, None));
        let told = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink::new(shared.clone(), Some(Box::new(Recorder(told.clone()))));
        let queue = match shared.config.mode {
            Mode::Client => shared.client_queue.clone(),
            Mode::Server => Arc::new(OutQueue::new(shared.config.queue_capacity)),
        };
        let conn = Conn::new(1, Mem::new(), peer(), phase, queue, &shared);
        Rig {
            shared,
            sink,
            log: LogView::default(),
            told,
            scratch: vec![0; 64 * 1024],
            conn,
            _poll: poll,
        }
    }

    /// A server connection past its opening handshake, with the 101 taken off the wire.
    pub fn open_server(config: Config) -> Rig {
        let mut r = Rig::new(config, Phase::ServerHandshake);
        r.feed(&request("/"));
        r.read().expect("handshake");
        r.write().expect("101");
        assert_eq!(r.conn.phase, Phase::Open);
        let wire = r.conn.stream.take_wire();
        assert!(wire.starts_with(b"HTTP/1.1 101 "), "{wire:?}");
        r
    }

    /// Bytes from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.conn.stream.input.extend(bytes);
    }

    /// A frame from a client peer (masked, as RFC 6455 requires of clients).
    pub fn feed_frame(&mut self, op: u8, payload: &[u8]) {
        let f = frame::encode(op, payload, Some([1, 2, 3, 4]));
        self.feed(&f);
    }

    /// The I/O loop's read on a readable event.
    pub fn read(&mut self) -> Result<(), End> {
        self.conn.read_hint = true;
        self.conn
            .read(&mut self.scratch, &mut self.sink, &self.shared)
    }

    /// The I/O loop's write on a writable event.
    pub fn write(&mut self) -> Result<(), End> {
        self.conn.writable = true;
        self.conn.write(&self.shared, &self.log)
    }

    /// Queues a data message as `Context::send` does (counted as queued).
    pub fn send(&mut self, payload: &[u8]) {
        let mask = (self.shared.config.mode == Mode::Client).then_some([9, 9, 9, 9]);
        let msg = OutMsg {
            frame: frame::encode(opcode::BINARY, payload, mask),
            payload_len: payload.len(),
            after: 0,
            seq: 0,
        };
        self.shared
            .stats
            .messages_queued
            .fetch_add(1, Ordering::SeqCst);
        self.conn
            .queue
            .push(msg, self.shared.numbering())
            .expect("room in the queue");
    }

    /// What the handler was told so far.
    pub fn told(&self) -> Vec<Told> {
        self.told.lock().unwrap().clone()
    }

    /// A statistics counter.
    pub fn stat(
        &self,
        f: impl Fn(&crate::engine::stats::Stats) -> &std::sync::atomic::AtomicU64,
    ) -> u64 {
        f(&self.shared.stats).load(Ordering::SeqCst)
    }
}

/// A client connection whose request is written; answers the request's key.
pub fn client() -> (Rig, String) {
    let mut c = Config::new(Mode::Client);
    c.port = 9;
    c.path = "/logs".into();
    let mut r = Rig::new(c, Phase::Connecting);
    r.conn.start_client_handshake(&r.shared);
    assert_eq!(r.conn.phase, Phase::ClientHandshake);
    r.write().unwrap();
    let wire = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    assert!(wire.starts_with("GET /logs HTTP/1.1\r\n"), "{wire}");
    assert!(wire.ends_with("\r\n\r\n"), "{wire}");
    let key = wire
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key")
        .to_string();
    (r, key)
}

/// A server's answer to the handshake.
pub fn response(status: &str, accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// A client connection past its opening handshake.
pub fn open_client() -> Rig {
    let (mut r, key) = client();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    r.feed(&response("101 Switching Protocols", &accept));
    r.read().expect("101 accepted");
    assert_eq!(r.conn.phase, Phase::Open);
    r
}

/// A client's upgrade request for `path`.
pub fn request(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes()
}

/// An unmasked frame as a server writes it.
pub fn server_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    frame::encode(op, payload, None).to_vec()
}

/// A close frame as a server writes it.
pub fn server_close(code: u16, reason: &str) -> Vec<u8> {
    server_frame(opcode::CLOSE, &frame::close_payload(code, reason))
}
