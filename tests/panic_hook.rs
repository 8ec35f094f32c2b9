//! The panic hook (`src/ffi/errors.rs`): installed once, it chains to the hook it replaced. A
//! panic of the host program's own reaches that previous hook; a panic inside the library (here:
//! on a context's I/O thread) goes to the log handler instead, is reported as an internal error,
//! and leaves that context closed for good. One test: the hook is process-wide.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use ws_api::engine::log::{self, Level};
use ws_api::engine::{Config, Context, Error, ErrorKind, Handler, Mode, MsgKind};

/// Panics in on_connect (a bug on the I/O thread) and records the errors reported after it.
struct PanicOnConnect(Watch<Vec<Error>>);

impl Handler for PanicOnConnect {
    fn on_connect(&mut self, _conn: u64) {
        panic!("bug in on_connect");
    }
    fn on_receive(&mut self, _: u64, _: &[u8], _: MsgKind) -> bool {
        false
    }
    fn on_writable(&mut self, _: u64) {}
    fn on_close(&mut self, _: u64, _: u16, _: &str) {}
    fn on_error(&mut self, _conn: u64, err: &Error) {
        let e = err.clone();
        self.0.update(|v| v.push(e));
    }
}

#[test]
fn library_panics_are_logged_and_the_host_keeps_its_own() {
    let previous: Arc<Mutex<Vec<String>>> = Arc::default();
    let p = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        p.lock().unwrap().push(info.to_string())
    }));
    // The first options builder installs the library's hook over the test's.
    ws_api::ffi::ws_options_free(ws_api::ffi::ws_options_new(0));
    let logged: Watch<Vec<String>> = Watch::default();
    let l = logged.clone();
    log::set_handler(
        Some(Box::new(move |_, m: &str| {
            l.update(|v| v.push(m.to_string()))
        })),
        Level::Debug,
    );

    // 1. The host's own panic: the previous hook sees it, the log does not.
    let r = std::panic::catch_unwind(|| panic!("the host's own panic"));
    assert!(r.is_err());
    assert!(previous.lock().unwrap()[0].contains("the host's own panic"));
    assert!(logged.with(|v| v.iter().all(|m| !m.contains("the host's own panic"))));

    // 2. A panic on an I/O thread: logged, reported as an internal error, not passed on.
    let mut c = Config::new(Mode::Server);
    c.address = "127.0.0.1".into();
    let srv = Context::create(c).unwrap();
    let errors: Watch<Vec<Error>> = Watch::default();
    srv.start(Box::new(PanicOnConnect(errors.clone()))).unwrap();
    let (cli, _crec) = client(srv.local_port(), |_| {});
    let e = errors.wait("the internal error", T, |v| v.first().cloned());
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.message.contains("bug in on_connect"), "{}", e.message);
    logged.wait("the panic in the log", T, |v| {
        v.iter()
            .find(|m| m.contains("ws_api internal error") && m.contains("bug in on_connect"))
            .cloned()
    });
    assert_eq!(
        previous.lock().unwrap().len(),
        1,
        "{:?}",
        previous.lock().unwrap()
    );

    // 3. The context is closed for good: API calls answer Closed.
    let err = srv.broadcast(b"after", MsgKind::Text).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Closed);
    cli.shutdown(std::time::Duration::ZERO);
    srv.shutdown(std::time::Duration::ZERO);
    log::set_handler(None, Level::Debug);
}
