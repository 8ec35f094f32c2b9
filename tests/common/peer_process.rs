//! Real peer programs (nginx, tinyproxy) started by a test: waiting until one listens.

use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

/// Waits until `child` accepts TCP connections on 127.0.0.1:`port`, for at most `within`.
/// Panics, with the program's own log (`log()`), if it exits first or never listens: a peer
/// that did not start is a failed test, not a skipped one.
pub fn wait_listening(
    child: &mut Child,
    name: &str,
    port: u16,
    within: Duration,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("{name} exited with {st} at start:\n{}", log());
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} does not listen on {port}:\n{}",
            log()
        );
        // A program that is starting tells nobody when it listens: poll, with a deadline.
        std::thread::sleep(Duration::from_millis(20));
    }
}
