//! Manual dispatch: events wait for `dispatch`, the event fd signals them, and reading pauses
//! when the application falls behind instead of buffering without limit.

mod common;

use std::thread::ThreadId;
use std::time::{Duration, Instant};

use common::*;
use ws_api::engine::log::{Level, Target};
use ws_api::engine::{Config, Context, Dispatch, Error, Handler, Mode, MsgKind};

/// Records events like `RecHandler`, and the thread each callback ran on.
struct ThreadRecorder(RecHandler, Watch<Vec<ThreadId>>);

impl ThreadRecorder {
    fn ran_here(&self) {
        let id = std::thread::current().id();
        self.1.update(|v| v.push(id));
    }
}

impl Handler for ThreadRecorder {
    fn on_connect(&mut self, conn: u64) {
        self.ran_here();
        self.0.on_connect(conn);
    }
    fn on_receive(&mut self, conn: u64, data: &[u8], kind: MsgKind) -> bool {
        self.ran_here();
        self.0.on_receive(conn, data, kind)
    }
    fn on_writable(&mut self, conn: u64) {
        self.ran_here();
        self.0.on_writable(conn);
    }
    fn on_close(&mut self, conn: u64, code: u16, reason: &str) {
        self.ran_here();
        self.0.on_close(conn, code, reason);
    }
    fn on_error(&mut self, conn: u64, err: &Error) {
        self.ran_here();
        self.0.on_error(conn, err);
    }
}

/// A manual-dispatch server on 127.0.0.1 whose callbacks record their thread, and whose own log
/// handler records what its I/O thread logs.
fn manual_server() -> (Context, Recorder, Watch<Vec<ThreadId>>, Watch<Vec<String>>) {
    let logged: Watch<Vec<String>> = Watch::default();
    let l = logged.clone();
    let mut c = Config::new(Mode::Server);
    c.address = "127.0.0.1".into();
    c.dispatch = Dispatch::Manual;
    c.log = Some(Target::new(
        Box::new(move |_, m: &str| l.update(|v| v.push(m.to_string()))),
        Level::Info,
    ));
    let srv = Context::create(c).unwrap();
    let rec = Recorder::default();
    let threads: Watch<Vec<ThreadId>> = Watch::default();
    srv.start(Box::new(ThreadRecorder(
        RecHandler(rec.clone()),
        threads.clone(),
    )))
    .unwrap();
    (srv, rec, threads, logged)
}

fn wait_readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

#[test]
fn manual_dispatch_through_the_event_fd() {
    let (srv, rec, threads, _logged) = manual_server();
    let fd = srv.event_fd().expect("manual mode has an event fd");
    let (cli, crec) = client(srv.local_port(), |_| {});
    crec.wait("connect", T, |l| l.connects.first().copied());
    let n = 10_000;
    for i in 0..n {
        cli.send(0, format!("{i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while rec.with(|l| l.messages.len()) < n {
        assert!(
            Instant::now() < deadline,
            "manual dispatch did not deliver everything"
        );
        if wait_readable(fd, 1000) {
            srv.dispatch(100).unwrap();
        }
    }
    // Every callback, on_connect included, ran on this thread (the one calling dispatch).
    let me = std::thread::current().id();
    threads.with(|t| {
        assert_eq!(t.len(), n + 1, "one on_connect and {n} on_receive");
        assert!(
            t.iter().all(|id| *id == me),
            "a callback ran on another thread"
        );
    });
    rec.with(|l| {
        assert_eq!(l.connects.len(), 1);
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, format!("{i}").as_bytes());
        }
    });
    // Nothing pending: after one more dispatch the fd is quiet.
    srv.dispatch(0).unwrap();
    assert!(!wait_readable(fd, 0));
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn thread_mode_has_no_event_fd_and_refuses_dispatch() {
    let (srv, _rec) = server(|_| {});
    assert!(srv.event_fd().is_none());
    assert!(srv.dispatch(0).is_err());
    srv.shutdown(Duration::ZERO);
}

/// Sends `n` messages of `size` bytes to a manual-dispatch server that does not dispatch: the
/// server reads until `limit` events wait (4096 events or 32 MiB, plus what its last read had
/// already taken), says so in its log, then reads nothing more, however long the client keeps
/// data waiting. After dispatching, reading resumes and every message arrives, in order.
fn backlog_stops_reading_and_resumes(size: usize, n: usize, limit: usize) {
    let (srv, rec, _threads, logged) = manual_server();
    let (cli, crec) = client(srv.local_port(), |_| {});
    crec.wait("connect", T, |l| l.connects.first().copied());
    let fd = srv.event_fd().unwrap();
    let deadline = Instant::now() + T;
    while rec.with(|l| l.connects.is_empty()) {
        assert!(Instant::now() < deadline, "no on_connect dispatched");
        wait_readable(fd, 100);
        srv.dispatch(0).unwrap();
    }
    let conn = rec.with(|l| l.connects[0]);
    for i in 0..n {
        let mut m = vec![b'x'; size];
        m[..8].copy_from_slice(&(i as u64).to_le_bytes());
        cli.send(0, &m, MsgKind::Binary).unwrap();
    }
    // 1. The I/O thread says it stopped reading, with the backlog at the limit.
    logged.wait("the pause in the server's log", T, |v| {
        v.iter().find(|m| m.contains("reading paused")).cloned()
    });
    let held = srv.stats().messages_received as usize;
    // One read takes at most 256 KiB (the I/O thread's scratch buffer) past the limit.
    let one_read = 256 * 1024 / size + 1;
    assert!(
        held >= limit && held <= limit + one_read,
        "{held} messages held, limit {limit}"
    );
    // 2. The client writes more than that: unread messages wait in the server's socket.
    let deadline = Instant::now() + T;
    while (cli.stats().messages_sent as usize) < held + 2 {
        assert!(
            Instant::now() < deadline,
            "the client wrote no more than was read"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Two round trips on the same connection: the I/O thread went twice more through its loop
    // (reads come before the writes of the next turn) and read nothing meanwhile.
    for probe in [&b"probe 1"[..], b"probe 2"] {
        srv.send(conn, probe, MsgKind::Text).unwrap();
        crec.wait("the probe", T, |l| {
            l.messages.iter().any(|m| m.1 == probe).then_some(())
        });
    }
    assert_eq!(srv.stats().messages_received as usize, held);
    // 3. Dispatching lets reading resume: everything arrives, in order, nothing dropped.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rec.with(|l| l.messages.len()) < n {
        assert!(
            Instant::now() < deadline,
            "reading did not resume: {} of {n}",
            rec.with(|l| l.messages.len())
        );
        if wait_readable(fd, 1000) {
            srv.dispatch(0).unwrap();
        }
    }
    rec.with(|l| {
        assert_eq!(l.messages.len(), n);
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1.len(), size);
            assert_eq!(m.1[..8], (i as u64).to_le_bytes());
        }
    });
    assert_eq!(srv.stats().messages_dropped, 0);
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn backlog_of_events_stops_reading_until_dispatch() {
    // 4096 events of 1000 bytes (4 MB, well under 32 MiB): the event count is the limit.
    backlog_stops_reading_and_resumes(1000, 12_000, 4096);
}

#[test]
fn backlog_of_bytes_stops_reading_until_dispatch() {
    // 512 messages of 64 KiB make 32 MiB: the byte count is the limit.
    backlog_stops_reading_and_resumes(64 * 1024, 1024, 512);
}
