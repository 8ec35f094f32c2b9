//! Test helpers: a handler that records events and lets tests wait for conditions.

#![allow(dead_code)]

pub mod certs;
pub mod peer_process;
pub mod raw_frame;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ws_api::engine::{Config, Context, Error, Handler, Mode, MsgKind};

/// Everything a context reported.
#[derive(Default, Debug)]
pub struct Log {
    pub connects: Vec<u64>,
    pub messages: Vec<(u64, Vec<u8>, MsgKind)>,
    pub writable: Vec<u64>,
    pub closes: Vec<(u64, u16, String)>,
    pub errors: Vec<(u64, Error)>,
    /// on_sent reports: (connection, upto_seq), with the thread that ran each.
    pub sent: Vec<(u64, u64, std::thread::ThreadId)>,
    /// on_acked reports: (connection, upto_seq).
    pub acked: Vec<(u64, u64)>,
}

/// A value shared with callbacks, plus a condition variable to wait until it satisfies a test.
pub struct Watch<T>(pub Arc<(Mutex<T>, Condvar)>);

impl<T> Clone for Watch<T> {
    fn clone(&self) -> Self {
        Watch(self.0.clone())
    }
}

impl<T: Default> Default for Watch<T> {
    fn default() -> Self {
        Watch(Arc::default())
    }
}

impl<T: std::fmt::Debug> Watch<T> {
    /// Waits until `f` answers Some, failing the test after `timeout`.
    pub fn wait<R>(&self, what: &str, timeout: Duration, mut f: impl FnMut(&T) -> Option<R>) -> R {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.0;
        let mut g = m.lock().unwrap();
        loop {
            if let Some(v) = f(&g) {
                return v;
            }
            let now = Instant::now();
            assert!(now < deadline, "timed out waiting for {what}: {g:?}");
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Reads the value.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0 .0.lock().unwrap())
    }

    /// Changes the value and wakes the waiters.
    pub fn update(&self, f: impl FnOnce(&mut T)) {
        let (m, cv) = &*self.0;
        f(&mut m.lock().unwrap());
        cv.notify_all();
    }
}

/// Everything a context reported, to wait on.
pub type Recorder = Watch<Log>;

pub struct RecHandler(pub Recorder);

impl Handler for RecHandler {
    fn on_connect(&mut self, conn: u64) {
        self.0.update(|l| l.connects.push(conn));
    }
    fn on_receive(&mut self, conn: u64, data: &[u8], kind: MsgKind) -> bool {
        self.0
            .update(|l| l.messages.push((conn, data.to_vec(), kind)));
        false
    }
    fn on_writable(&mut self, conn: u64) {
        self.0.update(|l| l.writable.push(conn));
    }
    fn on_close(&mut self, conn: u64, code: u16, reason: &str) {
        self.0
            .update(|l| l.closes.push((conn, code, reason.to_string())));
    }
    fn on_error(&mut self, conn: u64, err: &Error) {
        let e = err.clone();
        self.0.update(|l| l.errors.push((conn, e)));
    }
    fn on_sent(&mut self, conn: u64, upto_seq: u64) {
        let t = std::thread::current().id();
        self.0.update(|l| l.sent.push((conn, upto_seq, t)));
    }
    fn on_acked(&mut self, conn: u64, upto_seq: u64) {
        self.0.update(|l| l.acked.push((conn, upto_seq)));
    }
}

pub const T: Duration = Duration::from_secs(10);

pub fn server(f: impl FnOnce(&mut Config)) -> (Context, Recorder) {
    let mut c = Config::new(Mode::Server);
    c.address = "127.0.0.1".into();
    f(&mut c);
    let ctx = Context::create(c).expect("server binds");
    let rec = Recorder::default();
    ctx.start(Box::new(RecHandler(rec.clone()))).unwrap();
    (ctx, rec)
}

pub fn client(port: u16, f: impl FnOnce(&mut Config)) -> (Context, Recorder) {
    let mut c = Config::new(Mode::Client);
    c.address = "127.0.0.1".into();
    c.port = port;
    c.backoff_min = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    f(&mut c);
    let ctx = Context::create(c).expect("client creates");
    let rec = Recorder::default();
    ctx.start(Box::new(RecHandler(rec.clone()))).unwrap();
    (ctx, rec)
}

/// Accepts one client, completes its handshake, never reads again.
pub fn mute_server(l: &std::net::TcpListener) -> std::net::TcpStream {
    let (mut s, _) = l.accept().unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        std::io::Read::read_exact(&mut s, &mut b).unwrap();
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .trim()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    std::io::Write::write_fmt(&mut s, format_args!( "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")).unwrap();
    s
}

/// Waits until `f` holds, polling, for at most `within` (for state that no callback announces,
/// such as the stats); fails the test with `what` after that.
pub fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
