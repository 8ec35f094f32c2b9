//! The adversarial suite (issue 12): each attack a hostile peer can make on a server, run over
//! real sockets on 127.0.0.1 by raw TCP attackers, while a control client on its own connection
//! does an echo every 20 ms. Each test asserts what the attack now costs (the attacker is read
//! no more, closed with 1008, refused with the right HTTP status, ...), that the control client
//! was served meanwhile, and that the server stayed within its memory budget by its own
//! accounting (`buffered_bytes` in the stats). Bounded: every wait has a deadline.

mod common;
mod common_faults;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use common_faults::*;
use ws_api::engine::{Config, Context, Error, ErrorKind, Handler, Mode, MsgKind};

/// The memory budget of every server here.
const BUDGET: usize = 8 << 20;
/// The control client's echo period.
const PERIOD: Duration = Duration::from_millis(20);
/// How long the control client waits for one echo before counting it as unanswered.
const ECHO_WAIT: Duration = Duration::from_secs(1);
/// Echoes the control client makes at least, to judge its service.
const MIN_ECHOES: usize = 20;

// ----- the server under attack -----

/// Records connects, closes and errors (messages go to the echo relay instead).
struct EchoHandler {
    rec: Recorder,
    echo: mpsc::Sender<(u64, Vec<u8>)>,
}

impl Handler for EchoHandler {
    fn on_connect(&mut self, conn: u64) {
        self.rec.update(|l| l.connects.push(conn));
    }
    fn on_receive(&mut self, conn: u64, data: &[u8], _kind: MsgKind) -> bool {
        let _ = self.echo.send((conn, data.to_vec()));
        false
    }
    fn on_writable(&mut self, _conn: u64) {}
    fn on_close(&mut self, conn: u64, code: u16, reason: &str) {
        self.rec
            .update(|l| l.closes.push((conn, code, reason.to_string())));
    }
    fn on_error(&mut self, conn: u64, err: &Error) {
        let e = err.clone();
        self.rec.update(|l| l.errors.push((conn, e)));
    }
}

/// A server that echoes every message from a thread of its own (as an application would).
struct Srv {
    ctx: Arc<Context>,
    rec: Recorder,
    relay: Option<thread::JoinHandle<()>>,
}

impl Srv {
    fn start(f: impl FnOnce(&mut Config)) -> Srv {
        let mut c = Config::new(Mode::Server);
        c.address = "127.0.0.1".into();
        c.max_buffered_bytes = BUDGET;
        c.ping_interval = Duration::ZERO;
        f(&mut c);
        let ctx = Arc::new(Context::create(c).expect("server binds"));
        let rec = Recorder::default();
        let (tx, rx) = mpsc::channel::<(u64, Vec<u8>)>();
        ctx.start(Box::new(EchoHandler {
            rec: rec.clone(),
            echo: tx,
        }))
        .unwrap();
        let c2 = ctx.clone();
        // Ends when the handler (the sender) is dropped at shutdown.
        let relay = thread::spawn(move || {
            for (conn, data) in rx {
                let _ = c2.send(conn, &data, MsgKind::Binary);
            }
        });
        Srv {
            ctx,
            rec,
            relay: Some(relay),
        }
    }

    fn port(&self) -> u16 {
        self.ctx.local_port()
    }

    fn buffered(&self) -> u64 {
        self.ctx.stats().buffered_bytes
    }

    /// The id of the `n`th connection (1-based) the server opened.
    fn nth_connect(&self, n: usize) -> u64 {
        self.rec
            .wait("connect", T, |l| l.connects.get(n - 1).copied())
    }

    /// The close code the server reported for `conn`.
    fn close_code(&self, conn: u64) -> u16 {
        self.rec.wait("on_close", T, |l| {
            l.closes.iter().find(|c| c.0 == conn).map(|c| c.1)
        })
    }

    /// Shuts down (draining for at most `drain`) and answers how long that took.
    fn finish(mut self, drain: Duration) -> Duration {
        let t = Instant::now();
        self.ctx.shutdown(drain);
        let took = t.elapsed();
        if let Some(r) = self.relay.take() {
            r.join().unwrap();
        }
        took
    }
}

/// The attacks run one at a time: each measures how well a control client is served while
/// its attacker loads the server, and another test's attacker on the same two cores would be
/// measured too.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ----- raw peers -----

/// A raw TCP peer with its unparsed input and reads bounded by deadlines.
struct Peer {
    s: TcpStream,
    buf: Vec<u8>,
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

impl Peer {
    fn tcp(port: u16) -> Peer {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("tcp connect");
        s.set_nodelay(true).unwrap();
        Peer { s, buf: Vec::new() }
    }

    /// Connects and completes the opening handshake.
    fn open(port: u16) -> Peer {
        let mut p = Peer::tcp(port);
        p.send(upgrade_request("/", &format!("Sec-WebSocket-Key: {KEY}\r\n")).as_bytes())
            .unwrap();
        let head = p.head(T).expect("handshake response");
        assert!(head.starts_with("HTTP/1.1 101"), "refused: {head}");
        p
    }

    fn send(&mut self, b: &[u8]) -> io::Result<()> {
        self.s.write_all(b)
    }

    /// Reads more bytes before `deadline`; false on EOF, reset or the deadline.
    fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        self.s.set_read_timeout(Some(left)).unwrap();
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// The next HTTP head, if one comes within `within`.
    fn head(&mut self, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..p + 4).collect();
                return Some(String::from_utf8_lossy(&head).into_owned());
            }
            if !self.fill(deadline) {
                return None;
            }
        }
    }

    /// The next frame, if one comes before `deadline`.
    fn frame(&mut self, deadline: Instant) -> Option<Frame> {
        loop {
            if let Some((f, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(f);
            }
            if !self.fill(deadline) {
                return None;
            }
        }
    }

    /// Reads until a close frame and answers its code (None: none came within `within`).
    fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        loop {
            let f = self.frame(deadline)?;
            if f.op == OP_CLOSE {
                return Some(f.close_code());
            }
        }
    }

    /// The HTTP status the server answers `request` with (written in one go).
    fn status_of(port: u16, request: &[u8]) -> String {
        let mut p = Peer::tcp(port);
        p.send(request).unwrap();
        let head = p.head(T).expect("an HTTP answer");
        head.lines().next().unwrap_or("").to_string()
    }
}

// ----- the control client -----

/// What the control client saw.
#[derive(Debug)]
struct ControlReport {
    sent: usize,
    /// Round-trip times of the echoes that came within ECHO_WAIT.
    answered: Vec<Duration>,
    /// The largest `buffered_bytes` the server's stats showed meanwhile.
    max_buffered: u64,
}

impl ControlReport {
    /// At least 90 % of the echoes answered, the 99th percentile under 200 ms, the server
    /// within its budget throughout.
    fn assert_served(&self, what: &str) {
        assert!(
            self.sent >= MIN_ECHOES,
            "{what}: too few echoes to judge: {self:?}"
        );
        assert!(
            self.answered.len() * 10 >= self.sent * 9,
            "{what}: only {} of {} echoes answered",
            self.answered.len(),
            self.sent
        );
        let mut t = self.answered.clone();
        t.sort();
        let p99 = t[(t.len() * 99).div_ceil(100) - 1];
        assert!(
            p99 < Duration::from_millis(200),
            "{what}: control p99 {p99:?} (of {} echoes)",
            t.len()
        );
        assert!(
            self.max_buffered <= BUDGET as u64,
            "{what}: server held {} bytes, budget {BUDGET}",
            self.max_buffered
        );
    }
}

/// A well-behaved client doing one echo per PERIOD on its own connection until stopped; it
/// answers the server's pings.
struct Control {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: thread::JoinHandle<ControlReport>,
}

impl Control {
    /// Opens the control connection (the server's first) and starts echoing.
    fn start(srv: &Srv) -> Control {
        let mut p = Peer::open(srv.port());
        srv.nth_connect(1);
        let ctx = srv.ctx.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let sent = Arc::new(AtomicUsize::new(0));
        let sent2 = sent.clone();
        let thread = thread::spawn(move || {
            let mut r = ControlReport {
                sent: 0,
                answered: Vec::new(),
                max_buffered: 0,
            };
            let mut seq = 0u64;
            while !stop2.load(Ordering::Acquire) {
                let t0 = Instant::now();
                seq += 1;
                p.send(&client_frame(OP_BINARY, &seq.to_be_bytes()))
                    .expect("control send");
                r.sent += 1;
                sent2.store(r.sent, Ordering::Release);
                let deadline = t0 + ECHO_WAIT;
                while let Some(f) = p.frame(deadline) {
                    match f.op {
                        OP_PING => p.send(&client_frame(OP_PONG, &f.payload)).unwrap(),
                        OP_BINARY if f.payload == seq.to_be_bytes() => {
                            r.answered.push(t0.elapsed());
                            break;
                        }
                        OP_BINARY => {} // a late echo of an earlier message
                        op => panic!("control client got opcode {op}"),
                    }
                }
                r.max_buffered = r.max_buffered.max(ctx.stats().buffered_bytes);
                // Pacing (the load's shape), not synchronisation.
                thread::sleep(PERIOD.saturating_sub(t0.elapsed()));
            }
            r
        });
        Control { stop, sent, thread }
    }

    /// Stops the control client once it has made enough echoes to judge (an attack that is
    /// over at once still has it make MIN_ECHOES).
    fn finish(self) -> ControlReport {
        wait_until("the control client's echoes", T, || {
            self.sent.load(Ordering::Acquire) >= MIN_ECHOES
        });
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("control client")
    }
}

fn ping_frame() -> Vec<u8> {
    client_frame(OP_PING, &[0x70; 125])
}

// ----- the attacks -----

/// Bug 1: a client floods 125-byte pings and never reads. The server answers only the latest
/// ping, stops reading the flooder once its answers wait (so the flooder's own writes block),
/// and keepalive closes it; the control client is served throughout and destroy is prompt.
#[test]
fn ping_flood_without_reading() {
    let _serial = one_at_a_time();
    let srv = Srv::start(|c| {
        // Keepalive gives up 4.5 s after the open: time enough, even on a loaded machine, for
        // the flooder to be blocked first (it takes under a second here).
        c.ping_interval = Duration::from_millis(1500);
        c.pong_timeout = Duration::from_millis(3000);
    });
    let control = Control::start(&srv);
    let mut flooder = Peer::open(srv.port());
    set_buf(&flooder.s, libc::SO_RCVBUF, 4096);
    let fid = srv.nth_connect(2);
    flooder
        .s
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let batch: Vec<u8> = (0..64).flat_map(|_| ping_frame()).collect();
    let start = Instant::now();
    let mut pings = 0u64;
    let blocked = loop {
        match flooder.s.write(&batch) {
            Ok(n) => pings += (n / ping_frame().len()) as u64,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break true
            }
            // Closed by the server before the flooder noticed it was not read.
            Err(_) => break false,
        }
        assert!(
            start.elapsed() < T,
            "the server reads the flood without end"
        );
    };
    let blocked_after = start.elapsed();
    assert!(
        blocked,
        "the server closed the flooder after {pings} pings instead of reading it no more"
    );
    // Not read, the flooder is closed by keepalive: no pong within pong_timeout.
    assert_eq!(srv.close_code(fid), 1006);
    let kind = srv.rec.wait("flooder's error", T, |l| {
        l.errors.iter().find(|e| e.0 == fid).map(|e| e.1.kind)
    });
    assert_eq!(kind, ErrorKind::Timeout);
    let report = control.finish();
    report.assert_served("ping flood");
    eprintln!(
        "ping flood: {pings} pings before the flooder was blocked after {blocked_after:?}; control {report:?}"
    );
    drop(flooder);
    let took = srv.finish(Duration::from_millis(500));
    assert!(took < Duration::from_secs(5), "destroy took {took:?}");
}

/// The other side of coalescing: a peer that reads gets a pong for every ping, even for pings
/// that arrive in one segment (Autobahn case 2.10 checks this).
#[test]
fn every_ping_of_a_reading_peer_is_answered() {
    let _serial = one_at_a_time();
    let srv = Srv::start(|_| {});
    let mut p = Peer::open(srv.port());
    let burst: Vec<u8> = (0..10u8)
        .flat_map(|i| client_frame(OP_PING, &[b'p', i]))
        .collect();
    p.send(&burst).unwrap();
    let deadline = Instant::now() + T;
    for i in 0..10u8 {
        let f = p.frame(deadline).expect("a pong");
        assert_eq!((f.op, f.payload), (OP_PONG, vec![b'p', i]));
    }
    srv.finish(Duration::from_millis(500));
}

/// Weak point 3: 200 connections hold fragmented messages, then one holds ever more. The
/// budget (8 MiB) holds: the largest holder is closed with 1008 (on_close, on_error), the 200
/// others keep their messages, and the server never shows more than the budget.
#[test]
fn memory_budget_closes_the_largest_holder() {
    let _serial = one_at_a_time();
    const HOLDERS: usize = 200;
    const SMALL: usize = 24 * 1024;
    let srv = Srv::start(|_| {});
    let control = Control::start(&srv);
    let mut holders = Vec::new();
    for _ in 0..HOLDERS {
        let mut p = Peer::open(srv.port());
        p.send(&frame(false, OP_BINARY, &[1; SMALL], Some([1, 2, 3, 4])))
            .unwrap();
        holders.push(p);
    }
    let held_by_small = (HOLDERS * SMALL) as u64;
    wait_until("the server to hold every small message", T, || {
        srv.buffered() >= held_by_small
    });
    let mut big = Peer::open(srv.port());
    let big_id = srv.nth_connect(HOLDERS + 2);
    let mut writer = big.s.try_clone().unwrap();
    let feeder = thread::spawn(move || {
        let chunk = vec![2u8; 1 << 20];
        let mut sent = 0usize;
        for i in 0..15 {
            let op = if i == 0 { OP_BINARY } else { OP_CONT };
            let f = frame(false, op, &chunk, Some([5, 6, 7, 8]));
            if writer.write_all(&f).is_err() {
                break; // closed by the server
            }
            sent += chunk.len();
        }
        sent
    });
    assert_eq!(big.close_code(T), Some(1008), "the largest holder's close");
    let sent = feeder.join().unwrap();
    assert_eq!(srv.close_code(big_id), 1008);
    let err = srv.rec.wait("on_error for the largest holder", T, |l| {
        l.errors.iter().find(|e| e.0 == big_id).map(|e| e.1.clone())
    });
    assert!(err.message.contains("memory budget"), "{err:?}");
    // Only the largest holder went: the others still hold their messages.
    srv.rec.with(|l| {
        assert_eq!(l.closes.len(), 1, "closed: {:?}", l.closes);
    });
    assert!(srv.buffered() >= held_by_small && srv.buffered() <= BUDGET as u64);
    let report = control.finish();
    report.assert_served("memory budget");
    eprintln!("budget: the large holder sent {sent} bytes; control {report:?}");
    drop(holders);
    srv.finish(Duration::from_millis(500));
}

/// Weak point 3: frames sent in half (a header announcing 1 MiB and 1000 bytes of it) and a
/// fragmented message never finished are closed with 1008 once message_timeout passes, and
/// what they held is freed.
#[test]
fn half_sent_frames_and_unfinished_messages_time_out() {
    let _serial = one_at_a_time();
    const TIMEOUT: Duration = Duration::from_millis(400);
    let srv = Srv::start(|c| c.message_timeout = TIMEOUT);
    let control = Control::start(&srv);
    let mut attackers = Vec::new();
    let t0 = Instant::now();
    for i in 0..50 {
        let mut p = Peer::open(srv.port());
        let bytes = if i % 2 == 0 {
            frame(true, OP_BINARY, &vec![3u8; 1 << 20], Some([1, 1, 1, 1]))[..1014].to_vec()
        } else {
            frame(
                false,
                OP_TEXT,
                b"the beginning of a message",
                Some([1, 1, 1, 1]),
            )
        };
        p.send(&bytes).unwrap();
        attackers.push(p);
    }
    for (i, p) in attackers.iter_mut().enumerate() {
        assert_eq!(p.close_code(T), Some(1008), "attacker {i}");
    }
    assert!(
        t0.elapsed() >= TIMEOUT,
        "closed before message_timeout passed"
    );
    for n in 0..50 {
        let id = srv.nth_connect(n + 2);
        assert_eq!(srv.close_code(id), 1008, "connection {id}");
    }
    wait_until("the attackers' bytes to be freed", T, || {
        srv.buffered() < 64 * 1024
    });
    let report = control.finish();
    report.assert_served("half-sent frames");
    srv.finish(Duration::from_millis(500));
}

/// The message timeout is the peer's clock, not the application's: while the application has
/// paused reading, an unfinished message is not closed, and it completes after the resume.
#[test]
fn message_timeout_spares_a_connection_the_application_paused() {
    let _serial = one_at_a_time();
    const TIMEOUT: Duration = Duration::from_millis(300);
    let srv = Srv::start(|c| c.message_timeout = TIMEOUT);
    let mut p = Peer::open(srv.port());
    let id = srv.nth_connect(1);
    p.send(&frame(
        false,
        OP_BINARY,
        b"first half, ",
        Some([4, 3, 2, 1]),
    ))
    .unwrap();
    // The first half is held (its timeout running) before the application pauses.
    wait_until("the first half to be held", T, || srv.buffered() > 0);
    srv.ctx.rx_flow(id, false).unwrap();
    // No event marks a close that must not happen: let twice the timeout pass.
    thread::sleep(TIMEOUT * 2);
    srv.rec
        .with(|l| assert!(l.closes.is_empty(), "closed: {:?}", l.closes));
    srv.ctx.rx_flow(id, true).unwrap();
    p.send(&frame(true, OP_CONT, b"second half", Some([4, 3, 2, 1])))
        .unwrap();
    let f = p.frame(Instant::now() + T).expect("the echo");
    assert_eq!(f.payload, b"first half, second half");
    srv.finish(Duration::from_millis(500));
}

/// Weak point 4: the head limit holds however the bytes arrive (431), HTTP/1.0 gets 505,
/// garbage 400, a duplicate or malformed key 400, the absolute form is accepted, and a head
/// that never ends (slowloris) is dropped at the handshake timeout.
#[test]
fn handshake_limits() {
    let _serial = one_at_a_time();
    const HANDSHAKE: Duration = Duration::from_millis(500);
    let srv = Srv::start(|c| c.handshake_timeout = HANDSHAKE);
    let control = Control::start(&srv);
    let port = srv.port();
    let key = format!("Sec-WebSocket-Key: {KEY}\r\n");
    let padding = format!("X-Padding: {}\r\n", "a".repeat(32 * 1024));
    let big = upgrade_request("/", &format!("{key}{padding}"));
    assert_eq!(
        Peer::status_of(port, big.as_bytes()),
        "HTTP/1.1 431 Request Header Fields Too Large",
        "32 KiB head in one write"
    );
    let mut p = Peer::tcp(port);
    for piece in big.as_bytes().chunks(4096) {
        if p.send(piece).is_err() {
            break; // answered and closed before the rest
        }
    }
    let head = p.head(T).expect("an answer to a dribbled head");
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    let v10 = upgrade_request("/", &key).replace("HTTP/1.1", "HTTP/1.0");
    assert_eq!(
        Peer::status_of(port, v10.as_bytes()),
        "HTTP/1.1 505 HTTP Version Not Supported"
    );
    assert_eq!(
        Peer::status_of(port, b"\x00\x01garbage\xff\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(
        Peer::status_of(port, b"GET / HTTP/1.1 trailing junk\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    let dup = upgrade_request("/", &format!("{key}{key}"));
    assert_eq!(
        Peer::status_of(port, dup.as_bytes()),
        "HTTP/1.1 400 Bad Request"
    );
    for bad in [
        "c2hvcnQ=",
        "not base64 at all!!!!!==",
        "dGhlIHNhbXBsZSBub25jZXM=",
    ] {
        let r = upgrade_request("/", &format!("Sec-WebSocket-Key: {bad}\r\n"));
        assert_eq!(
            Peer::status_of(port, r.as_bytes()),
            "HTTP/1.1 400 Bad Request",
            "key {bad}"
        );
    }
    let mut slow = Peer::tcp(port);
    let t0 = Instant::now();
    slow.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    assert_eq!(slow.head(T), None, "no answer to a never-ending head");
    let dropped = t0.elapsed();
    // None also at the read deadline: only an EOF well before it proves the drop.
    assert!(
        dropped >= HANDSHAKE && dropped < T - Duration::from_secs(1),
        "dropped after {dropped:?}, handshake timeout {HANDSHAKE:?}"
    );
    let absolute = upgrade_request(&format!("http://127.0.0.1:{port}/"), &key);
    assert_eq!(
        Peer::status_of(port, absolute.as_bytes()),
        "HTTP/1.1 101 Switching Protocols"
    );
    let report = control.finish();
    report.assert_served("handshake limits");
    srv.finish(Duration::from_millis(500));
}

/// Weak point 6: every close code RFC 6455 and the IANA registry allow is accepted from a peer
/// (and echoed); the others are a protocol error (1002).
#[test]
fn close_codes_from_peers() {
    let _serial = one_at_a_time();
    let srv = Srv::start(|_| {});
    let control = Control::start(&srv);
    let cases = [
        (1000, 1000),
        (1012, 1012),
        (1013, 1013),
        (1014, 1014),
        (3000, 3000),
        (4999, 4999),
        (1004, 1002),
        (1005, 1002),
        (1006, 1002),
        (1015, 1002),
        (2999, 1002),
        (5000, 1002),
    ];
    for (n, (code, want)) in cases.into_iter().enumerate() {
        let mut p = Peer::open(srv.port());
        let id = srv.nth_connect(n + 2);
        p.send(&client_frame(OP_CLOSE, &(code as u16).to_be_bytes()))
            .unwrap();
        assert_eq!(p.close_code(T), Some(want), "peer sent {code}");
        // Our side of TCP ends too, so the server need not wait out its close timeout.
        drop(p);
        assert_eq!(srv.close_code(id), want, "peer sent {code}");
    }
    let report = control.finish();
    report.assert_served("close codes");
    srv.finish(Duration::from_millis(500));
}

/// How the raw server of the backoff test fails an attempt.
fn fail_attempt(s: TcpStream, n: usize) {
    s.set_read_timeout(Some(T)).unwrap();
    let mut p = Peer { s, buf: Vec::new() };
    if n % 4 == 3 {
        // Before the handshake: the request is read and the connection closed.
        p.head(T).expect("a request");
        return;
    }
    let head = p.head(T).expect("a request");
    let key = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key"))
                .map(|(_, v)| v.trim().to_string())
        })
        .expect("a key");
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    match n % 4 {
        0 => {}                                                                  // close at once
        1 => answer.extend(frame(true, OP_TEXT, b"masked", Some([1, 2, 3, 4]))), // illegal mask
        _ => answer.extend([0x82, 127, 0, 0, 0, 0, 0x80, 0, 0, 0]),              // a 2 GiB frame
    }
    let _ = p.send(&answer);
    if n % 4 != 0 {
        // Wait for the client's close frame (its answer to the bad frame), then close.
        let _ = p.close_code(T);
    }
}

/// Weak point 7: a server that fails every connection at once, before or after its handshake,
/// gets reconnects with growing delays: the backoff starts over only after a connection stayed
/// open (5 s), and every failed attempt counts. Delays are at least half the nominal ones
/// (jitter), whatever the load; measured at the server's accepts and checked against the
/// engine's own reconnect counter.
#[test]
fn reconnects_to_a_failing_server_back_off() {
    let _serial = one_at_a_time();
    const ATTEMPTS: usize = 7;
    let min = Duration::from_millis(20);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let mut accepted = Vec::new();
        for n in 0..ATTEMPTS {
            let (s, _) = listener.accept().unwrap();
            accepted.push(Instant::now());
            fail_attempt(s, n);
        }
        accepted
    });
    let (cli, crec) = client(port, |c| {
        c.backoff_min = min;
        c.backoff_max = Duration::from_secs(10);
        c.ping_interval = Duration::ZERO;
    });
    let accepted = server.join().unwrap();
    let reconnects = cli.stats().reconnects;
    assert!(
        reconnects as usize >= ATTEMPTS - 1,
        "engine counted {reconnects} reconnects for {ATTEMPTS} attempts"
    );
    for (k, w) in accepted.windows(2).enumerate() {
        let gap = w[1] - w[0];
        // The k-th delay is drawn from [d/2, d] with d = min * 2^k.
        let floor = min * (1 << k) / 2;
        assert!(
            gap >= floor,
            "attempt {} came {gap:?} after the one before, below {floor:?}: {accepted:?}",
            k + 2
        );
    }
    let opened = crec.with(|l| l.connects.len());
    assert!(opened >= 2, "the handshakes succeeded: {opened}");
    cli.shutdown(Duration::from_millis(200));
}

/// The message timeout bounds one message, not a stream of them: a peer whose every write ends
/// in the middle of a frame (each write finishes the last frame and starts the next) completes
/// a message with every write, so it is never closed, however long it goes on.
#[test]
fn a_steady_stream_split_mid_frame_outlives_message_timeout() {
    let _serial = one_at_a_time();
    const TIMEOUT: Duration = Duration::from_millis(300);
    const WRITES: usize = 200;
    let srv = Srv::start(|c| c.message_timeout = TIMEOUT);
    let mut p = Peer::open(srv.port());
    let f = frame(true, OP_BINARY, b"one small message", Some([9, 8, 7, 6]));
    let stream: Vec<u8> = (0..WRITES).flat_map(|_| f.iter().copied()).collect();
    let half = f.len() / 2;
    let t0 = Instant::now();
    // Write i ends half-way through frame i. The pace (5 ms) is the shape of the stream, not a
    // wait for anything: 200 writes span about 3x the message timeout.
    let mut from = 0;
    for i in 0..WRITES {
        let to = (i * f.len() + half).min(stream.len());
        if to > from {
            p.send(&stream[from..to]).unwrap();
        }
        from = to;
        thread::sleep(Duration::from_millis(5));
    }
    p.send(&stream[from..]).unwrap();
    assert!(
        t0.elapsed() > TIMEOUT * 2,
        "the stream was shorter than intended"
    );
    for n in 0..WRITES {
        let e = p
            .frame(Instant::now() + T)
            .unwrap_or_else(|| panic!("echo {n} of {WRITES} missing (closed?)"));
        assert_eq!(e.op, OP_BINARY, "echo {n}: {:?}", e.close_code());
        assert_eq!(e.payload, b"one small message");
    }
    srv.rec
        .with(|l| assert!(l.closes.is_empty(), "closed: {:?}", l.closes));
    srv.finish(Duration::from_millis(500));
}
