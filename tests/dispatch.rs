//! Manual dispatch: events wait for `dispatch`, the event fd signals them, and reading pauses
//! when the application falls behind instead of buffering without limit.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_api::engine::{Config, Context, Dispatch, Mode, MsgKind};

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
    let mut c = Config::new(Mode::Server);
    c.address = "127.0.0.1".into();
    c.dispatch = Dispatch::Manual;
    let srv = Context::create(c).unwrap();
    let rec = Recorder::default();
    srv.start(Box::new(RecHandler(rec.clone()))).unwrap();
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
    rec.with(|l| {
        assert_eq!(l.connects.len(), 1, "on_connect ran on this thread");
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
