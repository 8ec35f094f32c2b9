//! The I/O thread of one context: a mio poll over the listener (server) or the connection
//! attempts (client), the queues' wake-ups, commands and timers. Connections live here and
//! nowhere else, so no lock guards their state.
//!
//! This file holds the loop itself: the poll and its timeout, the tokens and the dispatch of
//! events, servicing one connection (connect, read, write), and the timer heap.
//! Each policy around it is an `impl IoLoop` block (with its own state where it has some) in
//! `io_loop/`:
//!
//! - `accept`: accepting, `max_connections`, refusals with 503;
//! - `lingering`: sockets of failed server handshakes, read until EOF or a deadline;
//! - `client`: connecting, address rotation, reconnect backoff, carry-over (`ClientState`);
//! - `broadcast_sync`: taking in the broadcast log, the slow-subscriber policy;
//! - `budget`: `max_buffered_bytes`, largest holder first;
//! - `commands`: what API threads ask (commands and ready queues);
//! - `shutdown`: the drain, when the loop stops, the accounting of unsent messages (`Shutdown`);
//! - `teardown`: the end of one connection (reports, accounting, hand-over to the above).
//!
//! See docs/architecture.md, "The I/O loop".

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Token};

use super::broadcast::LogView;
use super::config::Mode;
use super::conn::{Conn, End, Phase};
use super::error::{Error, ErrorKind, Result};
use super::event::Handler;
use super::log::Level;
use super::shared::Shared;
use super::sink::Sink;
use super::tls::TlsSetup;
use crate::ws_log;

mod accept;
mod broadcast_sync;
mod budget;
mod client;
mod commands;
mod direct;
mod history;
mod lingering;
mod shutdown;
mod teardown;

use accept::Acceptor;
use client::ClientState;
use lingering::Lingering;
use shutdown::Shutdown;

/// The waker's token.
pub const WAKER: Token = Token(0);
const LISTENER: Token = Token(1);
/// The read buffer shared by all connections (what one read takes at most).
const SCRATCH: usize = 256 * 1024;

/// A connection's (or lingering socket's) token: its id moved past the waker's and the
/// listener's.
fn token(id: u64) -> Token {
    Token(id as usize + 1)
}

/// The I/O thread's state.
pub struct IoLoop {
    shared: Arc<Shared>,
    poll: Poll,
    /// Server: the listening socket and the TLS refusals under way.
    acceptor: Acceptor,
    tls: Option<TlsSetup>,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Connections with bytes left to read after their budget ran out.
    to_read: Vec<u64>,
    /// Connections held back while manual dispatch catches up.
    starved: Vec<u64>,
    /// Client: reconnects, addresses and carry-over (unused by a server).
    client: ClientState,
    /// The drain that ends the loop, and its accounting of unsent messages.
    shutdown: Shutdown,
    /// Server sockets whose handshake failed, read until EOF so the refusal is not reset away.
    lingering: Lingering,
    /// Server: the broadcast log as of the last look.
    view: LogView,
}

impl IoLoop {
    /// Prepares the loop; the listener (if any) is registered here so a server accepts as soon
    /// as the thread runs.
    pub fn new(
        shared: Arc<Shared>,
        poll: Poll,
        listener: Option<std::net::TcpListener>,
        tls: Option<TlsSetup>,
    ) -> Result<Self> {
        let acceptor = Acceptor::open(listener, poll.registry())?;
        let c = &shared.config;
        let client = ClientState::new(c.backoff_min, c.backoff_max);
        Ok(IoLoop {
            shared,
            poll,
            acceptor,
            tls,
            conns: HashMap::new(),
            next_id: 1,
            timers: BinaryHeap::new(),
            to_read: Vec::new(),
            starved: Vec::new(),
            client,
            shutdown: Shutdown::default(),
            lingering: Lingering::default(),
            view: LogView::default(),
        })
    }

    fn is_client(&self) -> bool {
        self.shared.config.mode == Mode::Client
    }

    /// Runs until shutdown. A panic (a bug) is caught, reported as an internal error, and the
    /// context winds down instead of unwinding into C.
    pub fn run(mut self, handler: Option<Box<dyn Handler>>) {
        let mut sink = Sink::new(self.shared.clone(), handler);
        let mut scratch = vec![0u8; SCRATCH];
        let r = catch_unwind(AssertUnwindSafe(|| self.main_loop(&mut sink, &mut scratch)));
        if let Err(p) = r {
            let text = super::panics::panic_text(&p);
            self.shared.accepting.store(false, Ordering::Release);
            sink.error(
                0,
                Error::new(
                    ErrorKind::Internal,
                    format!("internal error in the I/O thread: {text}"),
                ),
            );
        }
        self.abandon_all(&mut sink);
    }

    /// One round: wait for events or the next deadline, dispatch the events, then take in
    /// broadcasts, commands and ready queues, read what is left to read, run the timers.
    fn main_loop(&mut self, sink: &mut Sink, scratch: &mut [u8]) {
        let mut events = Events::with_capacity(1024);
        // Writing from the sending threads (direct.rs): the write token is this thread's
        // except while it waits in poll with the client connection idle.
        let shared = self.shared.clone();
        let mut token = shared.direct.hold();
        if self.is_client() {
            self.connect(sink);
        }
        loop {
            let timeout = self.poll_timeout();
            shared.direct.wait(&mut token, self.direct_fd(timeout));
            let polled = self.poll.poll(&mut events, timeout);
            if let Some((m, written)) = shared.direct.resume(&mut token) {
                self.take_back_direct(m, written);
            }
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    sink.error(0, Error::io("poll", &e));
                    return;
                }
            }
            for ev in events.iter() {
                self.on_event(ev, sink, scratch);
            }
            self.shared.woken();
            self.sync_broadcast(sink, scratch);
            self.commands(sink, scratch);
            self.ready(sink, scratch);
            if !self.starved.is_empty()
                && self.shared.manual.as_ref().is_some_and(|m| m.backlog_low())
            {
                // Dispatch caught up before it could see that reading was held back.
                self.to_read.append(&mut self.starved);
            }
            for id in std::mem::take(&mut self.to_read) {
                self.service(id, sink, scratch);
            }
            self.timers(sink, scratch);
            // Again after this round's writes: what every subscriber has written is freed now
            // rather than at the next wake-up, which an idle server may not have for long.
            self.sync_broadcast(sink, scratch);
            if self.shutdown_done() {
                return;
            }
        }
    }

    /// Routes one poll event: the listener, a lingering socket, or a connection.
    fn on_event(&mut self, ev: &Event, sink: &mut Sink, scratch: &mut [u8]) {
        let id = match ev.token() {
            WAKER => return,
            LISTENER => {
                self.accept(sink);
                return;
            }
            t => (t.0 - 1) as u64,
        };
        if self.lingering.contains(id) {
            self.drain_lingering(id);
        } else if let Some(c) = self.conns.get_mut(&id) {
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                c.read_hint = true;
            }
            if ev.is_writable() || ev.is_error() {
                c.writable = true;
            }
            if c.stream.is_tls() {
                // A TLS read can wait for writability and a write for readability: any event
                // retries both (see stream.rs).
                c.read_hint = true;
                c.writable = true;
            }
            self.service(id, sink, scratch);
        }
    }

    /// How long poll may wait: until the earliest deadline of any part, or not at all while a
    /// connection has bytes left to read.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.to_read.is_empty() {
            return Some(Duration::ZERO);
        }
        let next = [
            self.timers.peek().map(|Reverse((t, _))| *t),
            self.client.reconnect_at(),
            self.shutdown.deadline(),
            self.lingering.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        next.map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Registers a new connection (accepted or connecting) with the poll and arms its timer.
    fn add(&mut self, mut conn: Conn, sink: &mut Sink) {
        let id = conn.id;
        if let Err(e) = self.poll.registry().register(
            conn.stream.tcp(),
            token(id),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            sink.error(0, Error::io("register connection", &e));
            if self.is_client() {
                self.client.carry_back(conn.take_unsent_data());
                self.schedule_reconnect();
            }
            return;
        }
        self.conns.insert(id, conn);
        self.arm(id);
    }

    /// Does everything possible on one connection now: finish connecting, read, write.
    fn service(&mut self, id: u64, sink: &mut Sink, scratch: &mut [u8]) {
        let shared = self.shared.clone();
        let view = &self.view;
        let client = &mut self.client;
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let r = (|| {
            if c.phase == Phase::Connecting {
                if !c.writable {
                    return Ok(());
                }
                match c.stream.tcp().take_error() {
                    Ok(Some(e)) | Err(e) => return Err(End::Io(e)),
                    Ok(None) => {}
                }
                match c.stream.tcp().peer_addr() {
                    Ok(_) if client.tunnel_wanted() => c.phase = Phase::ProxyConnect,
                    Ok(_) => c.start_client_handshake(&shared),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        c.writable = false;
                        return Ok(());
                    }
                    Err(e) => return Err(End::Io(e)),
                }
            }
            if c.phase == Phase::ProxyConnect {
                if !client.tunnel(c.stream.tcp())? {
                    return Ok(());
                }
                c.start_client_handshake(&shared);
            }
            c.read(scratch, sink, &shared)?;
            c.write(&shared, view)?;
            Ok(())
        })();
        // Client with on_sent: what this round wrote, reported once for the round.
        sink.sent(id);
        // Client with on_acked: what this round's acknowledgements released.
        sink.acked(id);
        if let Err(end) = r {
            self.teardown(id, end, sink);
            return;
        }
        if c.just_opened {
            c.just_opened = false;
            if self.is_client() {
                self.client_opened(id);
            }
        }
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.held_back {
            c.held_back = false;
            if let Some(m) = &shared.manual {
                if !m.starving.swap(true, Ordering::AcqRel) {
                    ws_log!(
                        Level::Info,
                        "manual dispatch fell behind (4096 events or 32 MiB waiting): reading \
                         paused until ws_dispatch catches up"
                    );
                }
            }
            self.starved.push(id);
        } else if c.more_to_read {
            c.more_to_read = false;
            self.to_read.push(id);
        }
        if c.opened
            && c.queue.want_writable.load(Ordering::SeqCst)
            && c.queue.has_room()
            && c.queue.want_writable.swap(false, Ordering::SeqCst)
        {
            sink.writable(id);
        }
        self.arm(id);
        self.keep_budget(sink);
    }

    /// Puts a connection's next deadline on the timer heap (once per deadline: entries that no
    /// longer match `armed` are skipped when they come up).
    fn arm(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id) {
            if let Some(d) = c.next_deadline() {
                if c.armed != Some(d) {
                    c.armed = Some(d);
                    self.timers.push(Reverse((d, id)));
                }
            }
        }
    }

    /// Everything due by now: lingering deadlines, a planned reconnect, connection timers.
    fn timers(&mut self, sink: &mut Sink, scratch: &mut [u8]) {
        let now = Instant::now();
        self.expire_lingering(now);
        if self.client.due(now) && self.conns.is_empty() {
            self.connect(sink);
        }
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let shared = self.shared.clone();
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            if c.armed != Some(t) {
                continue;
            }
            c.armed = None;
            match c.on_timer(now, &shared) {
                Ok(()) => self.service(id, sink, scratch),
                Err(end) => self.teardown(id, end, sink),
            }
        }
    }
}
