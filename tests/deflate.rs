//! permessage-deflate (RFC 7692) over real sockets on 127.0.0.1: our client against our server,
//! a raw peer that speaks the extension by hand (negotiation, RSV1, a decompression bomb), and
//! Python's `websockets` in both directions (the #[ignore]d `interop_*` tests, which need
//! python3 with websockets in $PYTHON: scripts/check.d/46-deflate-interop.sh runs them).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, server, T};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use ws_api::engine::MsgKind;

/// Log-like lines, varied but similar, as a compressor meets them.
fn line(i: usize) -> String {
    format!(
        "<13>Dec  1 15:{:02}:{:02} host{} app[{}]: user {} logged in from 10.0.{}.{} session={:x}",
        i % 60,
        (i * 7) % 60,
        i % 5,
        1000 + i % 17,
        i % 23,
        i % 7,
        i % 250,
        i * 7919
    )
}

#[test]
fn our_client_and_server_compress_both_ways() {
    let (srv, srec) = server(|c| c.compression = 1);
    let (cli, crec) = client(srv.local_port(), |c| c.compression = 6);
    let conn = srec.wait("connect", T, |l| l.connects.first().copied());
    let n = 500;
    for i in 0..n {
        cli.send(0, line(i).as_bytes(), MsgKind::Text).unwrap();
        srv.send(conn, line(i + n).as_bytes(), MsgKind::Text)
            .unwrap();
    }
    srec.wait("client's lines", T, |l| {
        (l.messages.len() == n).then_some(())
    });
    crec.wait("server's lines", T, |l| {
        (l.messages.len() == n).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, line(i).as_bytes());
        }
    });
    crec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, line(i + n).as_bytes());
        }
    });
    assert_eq!(srv.stats().connections_compressed, 1);
    assert_eq!(cli.stats().connections_compressed, 1);
    // The client's compressor and the server's inflater are in the budget total. The total is
    // published after the read that delivered the last message, so the test may see the
    // messages a moment before it.
    common::wait_until(
        "the client's budget total to count its compressor",
        T,
        || cli.stats().buffered_bytes > 0,
    );
    cli.shutdown(Duration::from_secs(1));
    srec.wait("close", T, |l| l.closes.first().map(|_| ()));
    assert_eq!(srv.stats().connections_compressed, 0);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn compression_off_on_one_side_means_plain() {
    let (srv, srec) = server(|c| c.compression = 0);
    let (cli, _crec) = client(srv.local_port(), |c| c.compression = 1);
    srec.wait("connect", T, |l| l.connects.first().copied());
    cli.send(0, b"plain", MsgKind::Text).unwrap();
    srec.wait("message", T, |l| l.messages.first().map(|_| ()));
    assert_eq!(srv.stats().connections_compressed, 0);
    assert_eq!(cli.stats().connections_compressed, 0);
}

#[test]
fn a_client_whose_budget_cannot_hold_a_compressor_does_not_offer() {
    let (srv, srec) = server(|c| c.compression = 1);
    let (cli, _crec) = client(srv.local_port(), |c| {
        c.compression = 1;
        c.max_buffered_bytes = 256 * 1024;
    });
    srec.wait("connect", T, |l| l.connects.first().copied());
    cli.send(0, b"plain", MsgKind::Text).unwrap();
    srec.wait("message", T, |l| l.messages.first().map(|_| ()));
    assert_eq!(cli.stats().connections_compressed, 0);
    assert_eq!(srv.stats().connections_compressed, 0);
}

// ----- a raw peer -----

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects and sends an upgrade request with `extensions` (if any); answers the peer and
    /// the response head.
    fn open(port: u16, extensions: Option<&str>) -> (Raw, String) {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut r = Raw { s, buf: Vec::new() };
        let ext = extensions.map_or(String::new(), |e| {
            format!("Sec-WebSocket-Extensions: {e}\r\n")
        });
        let req = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{ext}\r\n"
        );
        r.s.write_all(req.as_bytes()).unwrap();
        let deadline = Instant::now() + T;
        loop {
            if let Some(p) = r.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = r.buf.drain(..p + 4).collect();
                return (r, String::from_utf8(head).unwrap());
            }
            assert!(r.fill(deadline), "no handshake response");
        }
    }

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

    /// The next frame: its first byte and payload (server frames are unmasked).
    fn frame(&mut self) -> (u8, Vec<u8>) {
        let deadline = Instant::now() + T;
        loop {
            if self.buf.len() >= 2 {
                let (len, hl) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    l => (l as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= hl + len {
                    let f: Vec<u8> = self.buf.drain(..hl + len).collect();
                    return (f[0], f[hl..].to_vec());
                }
            }
            assert!(self.fill(deadline), "no frame");
        }
    }

    /// Sends a masked final frame with first byte `b0`.
    fn send(&mut self, b0: u8, payload: &[u8]) {
        let key = [1u8, 2, 3, 4];
        let mut f = vec![b0];
        match payload.len() {
            l if l < 126 => f.push(0x80 | l as u8),
            l if l <= 65535 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(l as u16).to_be_bytes());
            }
            l => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(l as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        // The peer may close before all of it is read: a failed write is fine.
        let _ = self.s.write_all(&f);
    }

    /// The code of the close frame that comes next (skipping data frames).
    fn close_code(&mut self) -> u16 {
        loop {
            let (b0, p) = self.frame();
            if b0 & 0x0f == 0x8 {
                return u16::from_be_bytes([p[0], p[1]]);
            }
        }
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(6), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    loop {
        let done = c.total_in() as usize;
        c.compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .unwrap();
        if c.total_in() as usize == data.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate(z: &[u8]) -> Vec<u8> {
    let mut d = Decompress::new(false);
    let mut input = z.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 20);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    out
}

#[test]
fn a_raw_peer_negotiates_and_both_directions_are_compressed() {
    let (srv, srec) = server(|c| c.compression = 1);
    let (mut p, head) = Raw::open(
        srv.local_port(),
        Some("permessage-deflate; client_max_window_bits"),
    );
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
        ),
        "{head}"
    );
    let conn = srec.wait("connect", T, |l| l.connects.first().copied());
    // The peer's compressed message, RSV1 on its frame, arrives inflated.
    let msg = line(1).repeat(20);
    p.send(0x80 | 0x40 | 0x1, &deflate(msg.as_bytes()));
    srec.wait("message", T, |l| l.messages.first().map(|_| ()));
    srec.with(|l| assert_eq!(l.messages[0].1, msg.as_bytes()));
    // Ours comes with RSV1 and inflates to what was sent.
    srv.send(conn, msg.as_bytes(), MsgKind::Binary).unwrap();
    let (b0, z) = p.frame();
    assert_eq!(b0, 0x80 | 0x40 | 0x2);
    assert!(
        z.len() < msg.len() / 4,
        "{} bytes for {}",
        z.len(),
        msg.len()
    );
    assert_eq!(inflate(&z), msg.as_bytes());
    // Control frames are never compressed: a ping is answered with a plain pong.
    p.send(0x89, b"hi");
    assert_eq!(p.frame(), (0x8a, b"hi".to_vec()));
    // RSV1 on a control frame is a protocol error.
    p.send(0x80 | 0x40 | 0x9, b"");
    assert_eq!(p.close_code(), 1002);
}

#[test]
fn broadcasts_reach_deflate_and_plain_subscribers_alike() {
    let (srv, srec) = server(|c| c.compression = 1);
    let port = srv.local_port();
    let (mut z1, _) = Raw::open(port, Some("permessage-deflate; client_max_window_bits"));
    let (mut z2, _) = Raw::open(port, Some("permessage-deflate"));
    let (mut plain, _) = Raw::open(port, None);
    srec.wait("three connect", T, |l| {
        (l.connects.len() == 3).then_some(())
    });
    assert_eq!(srv.stats().connections_compressed, 2);
    let msgs: Vec<String> = (0..50).map(|i| line(i).repeat(3)).collect();
    for m in &msgs {
        srv.broadcast(m.as_bytes(), MsgKind::Text).unwrap();
    }
    for m in &msgs {
        let a = z1.frame();
        // The same compressed bytes go to every deflate subscriber.
        assert_eq!(z2.frame(), a);
        assert_eq!(a.0, 0x80 | 0x40 | 0x1);
        assert_eq!(inflate(&a.1), m.as_bytes());
        assert_eq!(plain.frame(), (0x81, m.as_bytes().to_vec()));
    }
}

#[test]
fn a_malformed_offer_is_declined_and_the_next_alternative_taken() {
    let (srv, _srec) = server(|c| c.compression = 1);
    let (_p, head) = Raw::open(
        srv.local_port(),
        Some("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"),
    );
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    let (_p, head) = Raw::open(
        srv.local_port(),
        Some("permessage-deflate; bogus, permessage-deflate; client_no_context_takeover"),
    );
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"),
        "{head}"
    );
}

#[test]
fn rsv1_without_negotiation_is_a_protocol_error() {
    // Compression on, but this peer offers nothing.
    let (srv, _srec) = server(|c| c.compression = 1);
    let (mut p, head) = Raw::open(srv.local_port(), None);
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    p.send(0x80 | 0x40 | 0x1, &deflate(b"hello"));
    assert_eq!(p.close_code(), 1002);
    // And with compression off altogether.
    let (srv, _srec) = server(|_| {});
    let (mut p, _) = Raw::open(srv.local_port(), Some("permessage-deflate"));
    p.send(0x80 | 0x40 | 0x1, &deflate(b"hello"));
    assert_eq!(p.close_code(), 1002);
}

#[test]
fn a_decompression_bomb_is_refused_with_1009_before_it_is_inflated() {
    let max = 64 * 1024;
    // A budget far below what the bomb inflates to: were it inflated past max_message_size,
    // the budget would close the connection with 1008 instead.
    let (srv, srec) = server(|c| {
        c.compression = 1;
        c.max_message_size = max;
        c.max_buffered_bytes = 1 << 20;
    });
    let (mut p, head) = Raw::open(srv.local_port(), Some("permessage-deflate"));
    assert!(head.contains("permessage-deflate"), "{head}");
    let bomb = deflate(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < max, "{} compressed bytes", bomb.len());
    p.send(0x80 | 0x40 | 0x2, &bomb);
    assert_eq!(p.close_code(), 1009);
    let st = srv.stats();
    assert!(st.buffered_bytes < 1 << 20, "{st:?}");
    srec.with(|l| assert!(l.messages.is_empty()));
    // A message just within the limit still arrives.
    let (mut p, _) = Raw::open(srv.local_port(), Some("permessage-deflate"));
    p.send(0x80 | 0x40 | 0x2, &deflate(&vec![7u8; max]));
    srec.wait("message at the limit", T, |l| {
        l.messages.first().map(|_| ())
    });
    srec.with(|l| assert_eq!(l.messages[0].1.len(), max));
}

// ----- Python's websockets (it negotiates permessage-deflate by default) -----

fn python() -> Command {
    Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
}

fn peer(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn output_of(mut child: Child) -> String {
    let mut stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = tx.send(out);
    });
    let out = rx.recv_timeout(T).expect("python peer did not finish");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "python peer failed: {out}");
    out
}

#[test]
#[ignore = "needs python3 with websockets in $PYTHON"]
fn interop_python_client_compresses_to_our_server() {
    let (srv, srec) = server(|c| c.compression = 1);
    let n = 200;
    let child = Child(
        python()
            .arg(peer("deflate_peer.py"))
            .arg("client")
            .arg(format!("ws://127.0.0.1:{}/", srv.local_port()))
            .arg(n.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3"),
    );
    let conn = srec.wait("python connects", T, |l| l.connects.first().copied());
    srec.wait("python's lines", T, |l| {
        (l.messages.len() == n).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, format!("py {i} {}", "x".repeat(i % 50)).as_bytes());
        }
    });
    assert_eq!(srv.stats().connections_compressed, 1);
    srv.send(conn, b"done", MsgKind::Text).unwrap();
    let out = output_of(child);
    assert!(out.contains("extensions permessage-deflate"), "{out}");
    assert!(out.contains("got done"), "{out}");
}

#[test]
#[ignore = "needs python3 with websockets in $PYTHON"]
fn interop_our_client_compresses_to_python_server() {
    let mut child = Child(
        python()
            .arg(peer("deflate_peer.py"))
            .arg("server")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3"),
    );
    // The server prints its port once it listens.
    let mut line_buf = Vec::new();
    let mut out = child.0.stdout.take().unwrap();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        line_buf.push(b[0]);
    }
    let port: u16 = String::from_utf8(line_buf).unwrap().trim().parse().unwrap();
    let (cli, crec) = client(port, |c| c.compression = 1);
    crec.wait("connect", T, |l| l.connects.first().copied());
    assert_eq!(cli.stats().connections_compressed, 1);
    let n = 200;
    for i in 0..n {
        cli.send(0, line(i).as_bytes(), MsgKind::Text).unwrap();
    }
    // The python server echoes each message back, compressed.
    crec.wait("echoes", T, |l| (l.messages.len() == n).then_some(()));
    crec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, line(i).as_bytes());
        }
    });
    cli.shutdown(Duration::from_secs(1));
}
