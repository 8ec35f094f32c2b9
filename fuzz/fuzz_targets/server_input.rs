//! The server's input path, as a peer sees it: arbitrary bytes arrive on a real loopback socket
//! (the engine has no way to be fed bytes without one), opening handshake included.
//!
//! Input layout: first byte even = the bytes are sent as they are (the HTTP parser is the target);
//! odd = a valid opening handshake goes first and the bytes follow as frames (the frame parser,
//! reassembly, UTF-8 checks and close handling are the target). The rest of the first byte picks
//! how the bytes are cut into writes, so partial frames and heads are exercised.
//!
//! Checked on every input: the server ends the connection by itself once we stop sending (it
//! must never hang on a peer that half-closed), and keeps accepting (a dead I/O thread shows up
//! as the next input's hang). A panic in the I/O thread is reported as an internal error
//! through the handler, which aborts here.

#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ws_api::engine::{Config, Context, Error, ErrorKind, Handler, Mode, MsgKind};

struct Quiet;

impl Handler for Quiet {
    fn on_connect(&mut self, _conn: u64) {}
    fn on_receive(&mut self, _conn: u64, _data: &[u8], _kind: MsgKind) -> bool {
        false
    }
    fn on_writable(&mut self, _conn: u64) {}
    fn on_close(&mut self, _conn: u64, _code: u16, _reason: &str) {}
    fn on_error(&mut self, _conn: u64, err: &Error) {
        // Protocol violations are expected; a bug inside the engine is not.
        if err.kind == ErrorKind::Internal {
            eprintln!("engine internal error: {}", err.message);
            std::process::abort();
        }
    }
}

fn port() -> u16 {
    static SERVER: OnceLock<Context> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            // A write to a socket the peer reset must fail with EPIPE, not kill the fuzzer
            // (libFuzzer's own main does not ignore SIGPIPE the way Rust programs do).
            // SAFETY: setting a signal disposition at start-up.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
            let mut c = Config::new(Mode::Server);
            c.address = "127.0.0.1".into();
            c.max_message_size = 64 * 1024;
            c.ping_interval = Duration::ZERO;
            c.handshake_timeout = Duration::from_millis(500);
            let ctx = Context::create(c).expect("bind");
            ctx.start(Box::new(Quiet)).expect("start");
            ctx
        })
        .local_port()
}

const HANDSHAKE: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let port = port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("server accepts");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_nodelay(true).unwrap();
    let mut input = Vec::with_capacity(HANDSHAKE.len() + body.len());
    if mode & 1 == 1 {
        input.extend_from_slice(HANDSHAKE);
    }
    input.extend_from_slice(body);
    let chunk = match mode >> 1 {
        0 => usize::MAX,
        n => n as usize,
    };
    for part in input.chunks(chunk.min(input.len().max(1))) {
        // The server may already have closed (a violation ends the connection): fine.
        if s.write_all(part).is_err() {
            break;
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    let mut sink = [0u8; 65536];
    loop {
        match s.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("server did not end a half-closed connection: {e}"),
        }
    }
});
