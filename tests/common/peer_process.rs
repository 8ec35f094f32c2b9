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

/// The installed program `name` (first of /usr/bin, /usr/sbin and $PATH), or None after saying
/// on stderr that `test` is skipped. With `require_var`=1 in the environment a missing program
/// fails the test instead (CI sets it, so CI never skips).
pub fn program_or_skip(name: &str, require_var: &str, test: &str) -> Option<std::path::PathBuf> {
    use std::io::Write;
    use std::path::PathBuf;

    let mut dirs = vec![PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var(require_var).as_deref() != Ok("1"),
            "{test}: {name} is not installed (apt-get install {name}) and {require_var}=1"
        );
        // Straight to stderr: the harness shows captured output only for failing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: {name} is not installed (apt-get install {name}); \
             set {require_var}=1 to make this a failure ***\n"
        );
    }
    found
}

/// A free port on 127.0.0.1 (bound, then released for a peer program to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
