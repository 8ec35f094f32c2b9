//! The public handle of one endpoint. API calls check their arguments and frame the message in
//! the caller's thread straight into the connection's send queue (`queue.rs`: a short lock, no
//! allocation per message), which the I/O thread writes from; they never wait for the network.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::acks::AckMode;
use super::config::{Config, Dispatch, Mode};
use super::error::{Error, ErrorKind, Result};
use super::event::{Handler, MsgKind};
use super::frame::{opcode, valid_close_code};
use super::io_loop::IoLoop;
use super::manual::ManualEvents;
use super::queue::OutQueue;
use super::shared::{Command, Shared};
use super::stats::{Snapshot, Stats};
use super::tls;

/// One endpoint: a client (with its reconnects) or a listening server.
pub struct Context {
    shared: Arc<Shared>,
    io: Mutex<Option<IoLoop>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Mutex<Option<std::thread::ThreadId>>,
}

fn bind(config: &Config) -> Result<TcpListener> {
    let addrs: Vec<SocketAddr> = (config.address.as_str(), config.port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::io(
                &format!("cannot resolve bind address {}", config.address),
                &e,
            )
        })?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((a, e)),
        }
    }
    Err(match last {
        Some((a, e)) => Error::io(&format!("cannot bind {a}"), &e),
        None => Error::new(
            ErrorKind::Io,
            format!("bind address {} resolves to nothing", config.address),
        ),
    })
}

impl Context {
    /// Creates a context. A server binds here, so a port in use or unreadable TLS files fail at
    /// once; nothing runs until `start`.
    pub fn create(mut config: Config) -> Result<Context> {
        if config.mode == Mode::Client && config.port == 0 {
            return Err(Error::invalid("a client needs a port (1..65535)"));
        }
        if config.mode == Mode::Client && config.proxy.is_none() && config.proxy_from_env {
            // Read once, here: a context does not follow later changes of its environment.
            config.proxy =
                super::proxy::from_env(|k| std::env::var(k).ok(), &config.address, config.tls)?;
        }
        if config.proxy.is_some() && !super::proxy::valid_target(&config.address) {
            // The name goes into the CONNECT request line: nothing may break out of it.
            return Err(Error::invalid(
                "the server address cannot be sent to a proxy (control character or space)",
            ));
        }
        if config.mode == Mode::Client && config.acks != AckMode::Off {
            // The offer (docs/acks.md); the server's answer decides per connection.
            config
                .headers
                .push((super::acks::wire::HEADER.to_string(), "1".to_string()));
        }
        if let Some(p) = &config.index_html {
            std::fs::metadata(p)
                .map_err(|e| Error::io(&format!("index_html {}", p.display()), &e))?;
        }
        let tls = if config.tls {
            Some(tls::TlsSetup::load(&config)?)
        } else {
            None
        };
        let poll = mio::Poll::new().map_err(|e| Error::io("cannot create poll", &e))?;
        let waker = mio::Waker::new(poll.registry(), super::io_loop::WAKER)
            .map_err(|e| Error::io("cannot create waker", &e))?;
        let listener = match config.mode {
            Mode::Server => Some(bind(&config)?),
            Mode::Client => None,
        };
        let local_port = match &listener {
            Some(l) => l
                .local_addr()
                .map_err(|e| Error::io("getsockname", &e))?
                .port(),
            None => config.port,
        };
        let manual = match config.dispatch {
            Dispatch::Manual => Some(ManualEvents::new()?),
            Dispatch::Thread => None,
        };
        let shared = Arc::new(Shared::new(config, waker, local_port, manual));
        let io = IoLoop::new(shared.clone(), poll, listener, tls)?;
        Ok(Context {
            shared,
            io: Mutex::new(Some(io)),
            thread: Mutex::new(None),
            thread_id: Mutex::new(None),
        })
    }

    /// Starts the I/O thread with the handler that receives the events.
    pub fn start(&self, handler: Box<dyn Handler>) -> Result<()> {
        let io = self
            .io
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| Error::invalid("context already started"))?;
        let handler = match &self.shared.manual {
            Some(m) => {
                *m.handler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handler);
                None
            }
            None => Some(handler),
        };
        let name = match self.shared.config.mode {
            Mode::Client => "ws_api-client",
            Mode::Server => "ws_api-server",
        };
        let log = self.shared.config.log.clone();
        let t = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Everything this thread does is the library's (see panics.rs), and what it
                // logs is about this context (see log.rs).
                let _ours = super::panics::Scope::enter();
                let _log = super::log::bind_thread(log);
                io.run(handler)
            })
            .map_err(|e| Error::io("cannot start the I/O thread", &e))?;
        *self.thread_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.thread().id());
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.accepting.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Closed,
                "the context is shutting down",
            ))
        }
    }

    /// Checks a message against the limits and its type; answers its opcode.
    fn check(&self, data: &[u8], kind: MsgKind) -> Result<u8> {
        let max = self.shared.config.max_message_size;
        if data.len() > max {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "message of {} bytes is above max_message_size {max}",
                    data.len()
                ),
            ));
        }
        match kind {
            MsgKind::Text => {
                if !super::utf8::is_valid(data) {
                    return Err(Error::invalid("text message is not valid UTF-8"));
                }
                Ok(opcode::TEXT)
            }
            MsgKind::Binary => Ok(opcode::BINARY),
        }
    }

    /// Frames `data` into `q` and wakes the I/O thread for it; answers its sequence number
    /// (client) or 0 (server).
    #[inline]
    fn push(&self, id: u64, q: &OutQueue, op: u8, data: &[u8]) -> Result<u64> {
        let seq = self.enqueue(q, op, data)?;
        self.shared.schedule(id, q);
        Ok(seq)
    }

    /// `push` without telling the I/O thread (the direct write takes the message itself, or
    /// schedules the queue when it cannot).
    #[inline]
    fn enqueue(&self, q: &OutQueue, op: u8, data: &[u8]) -> Result<u64> {
        let client = self.shared.config.mode == Mode::Client;
        // A server's message goes after the broadcasts appended before it.
        let after = if client { 0 } else { self.shared.bcast.head() };
        let stats = &self.shared.stats;
        // Counted before it is visible to the I/O thread, which uncounts it once written.
        stats.messages_queued.fetch_add(1, Ordering::SeqCst);
        match q.push_frame(op, data, client, after, self.shared.numbering()) {
            Some(seq) => Ok(seq),
            None => Err(self.rejected()),
        }
    }

    /// A full queue refused a message (out of line: the hot path stays small enough to inline).
    #[cold]
    fn rejected(&self) -> Error {
        let stats = &self.shared.stats;
        stats.messages_queued.fetch_sub(1, Ordering::SeqCst);
        Stats::inc(&stats.send_rejected);
        Error::new(ErrorKind::QueueFull, "send queue is full")
    }

    /// Queues a message. Client: `conn` 0 means the current connection (or the next one).
    pub fn send(&self, conn: u64, data: &[u8], kind: MsgKind) -> Result<()> {
        self.send_seq(conn, data, kind).map(|_| ())
    }

    /// Client: queues a message like `send` and answers its sequence number (1 for the first
    /// message the context accepted, then one more for each; a refused message takes none). The
    /// number stays the message's across reconnects; `Handler::on_sent` and
    /// `Snapshot::messages_sent_seq` report which numbers are written. A server answers 0.
    pub fn send_seq(&self, conn: u64, data: &[u8], kind: MsgKind) -> Result<u64> {
        self.check_open()?;
        let op = self.check(data, kind)?;
        self.with_queue(conn, |id, q| {
            // direct.rs: written from this thread when the connection is idle.
            let direct = &self.shared.direct;
            match direct.send(&self.shared, id, q, || self.enqueue(q, op, data)) {
                Some(r) => r,
                None => direct.queue(q, || self.push(id, q, op, data)),
            }
        })
    }

    /// Server: appends the message, framed once, to the broadcast log that every open
    /// connection writes from (a subscriber too far behind meets the slow policy on the I/O
    /// thread). Client: `send(0, ..)`.
    pub fn broadcast(&self, data: &[u8], kind: MsgKind) -> Result<()> {
        if self.shared.config.mode == Mode::Client {
            return self.send(0, data, kind);
        }
        self.check_open()?;
        let op = self.check(data, kind)?;
        let stats = &self.shared.stats;
        // Compressed once, here, for every deflate subscriber (`broadcast_deflate.rs`).
        let z = match &self.shared.deflate {
            Some(d) if self.shared.bcast.wants_compressed() => Some(d.frame(op, data)),
            _ => None,
        };
        let log = &self.shared.bcast;
        // With retention on, the I/O thread also keeps the history within its bounds.
        if log.append_with(op, data, z.as_deref(), &stats.messages_queued) > 0 || log.retains() {
            self.shared.wake();
        }
        Ok(())
    }

    /// Runs `f` on the queue of `conn` (client: 0 or the current id; the queue id is 0). A
    /// server's table stays read-locked meanwhile, so a connection being torn down cannot take a
    /// message after its queue was emptied and counted.
    fn with_queue<T>(
        &self,
        conn: u64,
        f: impl FnOnce(u64, &Arc<OutQueue>) -> Result<T>,
    ) -> Result<T> {
        match self.shared.config.mode {
            Mode::Client => {
                if conn != 0 && conn != self.shared.client_conn.load(Ordering::Acquire) {
                    return Err(Error::new(
                        ErrorKind::NotConnected,
                        format!("connection {conn} is not the client's open connection"),
                    ));
                }
                f(0, &self.shared.client_queue)
            }
            Mode::Server => {
                let conns = self.shared.conns_read();
                let q = conns.get(&conn).ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotConnected,
                        format!("connection {conn} is not open"),
                    )
                })?;
                f(conn, q)
            }
        }
    }

    fn known_conn(&self, conn: u64) -> Result<u64> {
        match self.shared.config.mode {
            Mode::Client => {
                let cur = self.shared.client_conn.load(Ordering::Acquire);
                if cur == 0 || (conn != 0 && conn != cur) {
                    return Err(Error::new(
                        ErrorKind::NotConnected,
                        format!("connection {conn} is not open"),
                    ));
                }
                Ok(cur)
            }
            Mode::Server => self.with_queue(conn, |id, _| Ok(id)),
        }
    }

    /// Asks for one `on_writable` when the queue of `conn` has room.
    pub fn request_writable(&self, conn: u64) -> Result<()> {
        self.check_open()?;
        self.with_queue(conn, |id, q| {
            q.want_writable.store(true, Ordering::SeqCst);
            q.scheduled.store(false, Ordering::SeqCst);
            self.shared.schedule(id, q);
            Ok(())
        })
    }

    /// The peer address of a connection, from its on_connect until its on_close is called
    /// (client: 0 names the current connection, the server it is connected to).
    pub fn peer_address(&self, conn: u64) -> Result<SocketAddr> {
        let id = match (self.shared.config.mode, conn) {
            (Mode::Client, 0) => self.shared.client_conn.load(Ordering::Acquire),
            _ => conn,
        };
        self.shared.peer(id).ok_or_else(|| {
            Error::new(
                ErrorKind::NotConnected,
                format!("connection {conn} is not open"),
            )
        })
    }

    /// Pauses or resumes reading from `conn`.
    pub fn rx_flow(&self, conn: u64, enable: bool) -> Result<()> {
        // Like every call that hands the I/O thread work: refused once shutdown started, so
        // threads calling in a loop cannot keep a draining I/O thread busy for ever.
        self.check_open()?;
        let id = self.known_conn(conn)?;
        self.shared.command(Command::RxFlow(id, enable));
        Ok(())
    }

    /// Starts the closing handshake of `conn`.
    pub fn close_connection(&self, conn: u64, code: u16, reason: &str) -> Result<()> {
        if !valid_close_code(code) {
            return Err(Error::invalid(format!(
                "close code {code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)"
            )));
        }
        if reason.len() > 123 {
            return Err(Error::invalid("close reason is longer than 123 bytes"));
        }
        self.check_open()?;
        let id = self.known_conn(conn)?;
        self.shared
            .command(Command::Close(id, code, reason.to_string()));
        Ok(())
    }

    /// Waits until everything queued reached the kernel.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        if self.shared.wait_flushed(Instant::now() + timeout) {
            Ok(())
        } else {
            let n = self.shared.stats.messages_queued.load(Ordering::SeqCst);
            Err(Error::new(
                ErrorKind::Timeout,
                format!("flush timed out with {n} messages still queued"),
            ))
        }
    }

    /// Stops new sends, drains for up to `drain`, closes every connection with 1001 and joins
    /// the I/O thread. Answers how many messages were left unsent (counted as dropped).
    pub fn shutdown(&self, drain: Duration) -> u64 {
        self.shared.accepting.store(false, Ordering::Release);
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = t {
            self.shared
                .command(Command::Shutdown(Instant::now() + drain));
            let _ = t.join();
        }
        if let Some(m) = &self.shared.manual {
            m.discard();
            m.handler.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
        self.shared.unsent.load(Ordering::SeqCst)
    }

    /// Whether the calling thread is this context's I/O thread.
    pub fn on_io_thread(&self) -> bool {
        *self.thread_id.lock().unwrap_or_else(|e| e.into_inner())
            == Some(std::thread::current().id())
    }

    /// Whether this is a client context.
    pub fn is_client(&self) -> bool {
        self.shared.config.mode == Mode::Client
    }

    /// Server: the bound port; client: the configured one.
    pub fn local_port(&self) -> u16 {
        self.shared.local_port
    }

    /// The counters now.
    pub fn stats(&self) -> Snapshot {
        self.shared.stats.snapshot()
    }

    /// Server with acknowledgements: the number of the message of `conn` being delivered (inside
    /// its on_receive) or last delivered; 0 before the first, and on a connection that did not
    /// negotiate acknowledgements.
    pub fn received_seq(&self, conn: u64) -> u64 {
        self.shared.rx_acks.received_seq(conn)
    }

    /// Server with acknowledgements: every message of `conn` up to `seq` is safe; the I/O thread
    /// tells the sender (batched, docs/acks.md). `seq` beyond the last delivered message is
    /// refused; 0 or a number already acknowledged changes nothing.
    pub fn acknowledge(&self, conn: u64, seq: u64) -> Result<()> {
        if self.shared.rx_acks.acknowledge(conn, seq)? {
            self.shared.command(Command::Ack(conn));
        }
        Ok(())
    }

    /// Manual dispatch: the fd that is readable while events wait.
    pub fn event_fd(&self) -> Option<RawFd> {
        self.shared.manual.as_ref().map(|m| m.fd())
    }

    /// Manual dispatch: runs up to `max` waiting events (0 = all) on this thread.
    pub fn dispatch(&self, max: usize) -> Result<()> {
        let m = self
            .shared
            .manual
            .as_ref()
            .ok_or_else(|| Error::invalid("ws_dispatch needs WS_DISPATCH_MANUAL"))?;
        m.dispatch(
            max,
            |conn| self.shared.command(Command::RxFlow(conn, false)),
            |conn| self.shared.peer_closed(conn),
            &self.shared.rx_acks,
            |conn| self.shared.command(Command::Ack(conn)),
        )?;
        if m.starving.load(Ordering::Acquire) && m.backlog_low() {
            m.starving.store(false, Ordering::Release);
            self.shared.command(Command::ResumeStarved);
        }
        Ok(())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}
