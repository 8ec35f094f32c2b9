//! Helpers for the fault tests: a raw WebSocket peer over `std::net::TcpStream` that can say
//! anything (the hostile side), and a handler that only counts, for runs too long to record.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use ws_api::engine::{Error, Handler, MsgKind};

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Builds one frame; `mask` None sends it unmasked (illegal from a client).
pub fn frame(fin: bool, op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | op];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        f.push(m | len as u8);
    } else if len <= 0xffff {
        f.push(m | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// A masked final frame, as a well-behaved client sends it.
pub fn client_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, op, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// One frame as received (servers send unmasked frames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub op: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame (1005 when it has none).
    pub fn close_code(&self) -> u16 {
        assert_eq!(self.op, OP_CLOSE, "not a close frame: {self:?}");
        if self.payload.len() >= 2 {
            u16::from_be_bytes([self.payload[0], self.payload[1]])
        } else {
            1005
        }
    }
}

/// A raw client: TCP plus the bytes read but not yet parsed.
pub struct Raw {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects TCP only; nothing is sent.
    pub fn tcp(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("tcp connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        Raw { s, buf: Vec::new() }
    }

    /// Wraps an accepted or connected stream.
    pub fn wrap(s: TcpStream) -> Raw {
        Raw { s, buf: Vec::new() }
    }

    /// Connects and completes the opening handshake (asserting the 101).
    pub fn open(port: u16) -> Raw {
        let mut r = Raw::tcp(port);
        r.send(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        let head = r.read_head().expect("handshake response");
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "handshake refused: {head}"
        );
        r
    }

    pub fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("raw write");
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 65536];
        let n = self.s.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// Reads an HTTP head; None on EOF before it is complete.
    pub fn read_head(&mut self) -> Option<String> {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..p + 4).collect();
                return Some(String::from_utf8_lossy(&head).into_owned());
            }
            if self.fill().expect("read head") == 0 {
                return None;
            }
        }
    }

    /// Reads one frame; None on EOF (or a connection reset) at a frame boundary.
    pub fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((f, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(f);
            }
            match self.fill() {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("raw read: {e}"),
            }
        }
    }

    /// Reads frames until a close frame (answering nothing) and returns its code, then asserts
    /// that the server ends the TCP connection. Data frames before it are returned too.
    pub fn expect_close(&mut self) -> (u16, Vec<Frame>) {
        let mut before = Vec::new();
        loop {
            let f = self.read_frame().expect("a close frame before EOF");
            if f.op == OP_CLOSE {
                let code = f.close_code();
                self.expect_eof();
                return (code, before);
            }
            before.push(f);
        }
    }

    /// Asserts that nothing but EOF follows (the server closed TCP).
    pub fn expect_eof(&mut self) {
        let mut tmp = [0u8; 4096];
        match self.s.read(&mut tmp) {
            Ok(0) => {}
            Ok(n) => panic!("bytes after the close: {:?}", &tmp[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("waiting for EOF: {e}"),
        }
    }

    /// Shrinks the kernel receive buffer so a peer that does not read fills up quickly.
    pub fn small_rcvbuf(&self) {
        set_buf(&self.s, libc::SO_RCVBUF, 4096);
    }

    /// Closes with SO_LINGER 0: the kernel sends RST instead of FIN.
    pub fn reset(self) {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a linger struct of the size given.
        let r = unsafe {
            libc::setsockopt(
                self.s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &l as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_LINGER");
        drop(self.s);
    }
}

/// Sets a socket buffer size (SO_RCVBUF / SO_SNDBUF).
pub fn set_buf(s: &impl AsRawFd, opt: libc::c_int, bytes: libc::c_int) {
    // SAFETY: a valid socket and an int option.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            &bytes as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt");
}

/// Parses one unmasked or masked frame from `b`: the frame and the bytes it used.
pub fn parse(b: &[u8]) -> Option<(Frame, usize)> {
    if b.len() < 2 {
        return None;
    }
    let fin = b[0] & 0x80 != 0;
    let op = b[0] & 0x0f;
    let masked = b[1] & 0x80 != 0;
    let (len, mut pos) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
        127 if b.len() >= 10 => (
            u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        l => (l as usize, 2),
    };
    let key = if masked {
        if b.len() < pos + 4 {
            return None;
        }
        pos += 4;
        Some([b[pos - 4], b[pos - 3], b[pos - 2], b[pos - 1]])
    } else {
        None
    };
    if b.len() < pos + len {
        return None;
    }
    let mut payload = b[pos..pos + len].to_vec();
    if let Some(k) = key {
        for (i, x) in payload.iter_mut().enumerate() {
            *x ^= k[i % 4];
        }
    }
    Some((Frame { fin, op, payload }, pos + len))
}

/// Counts of what a context reported, for long runs.
#[derive(Default, Debug)]
pub struct Counts {
    pub connects: u64,
    pub closes: u64,
    pub close_codes: HashMap<u16, u64>,
    pub closed_ids: Vec<(u64, u16)>,
    pub errors: u64,
    pub writable: u64,
    /// Messages received per connection, checked to arrive in order when they carry a
    /// big-endian u64 sequence number in their first 8 bytes.
    pub received: HashMap<u64, u64>,
    pub out_of_order: u64,
    pub keep_closed_ids: bool,
}

/// Shared counts, to wait on.
pub type Counter = crate::common::Watch<Counts>;

/// A handler that only counts (and checks sequence numbers).
pub struct CountHandler(pub Counter);

impl Handler for CountHandler {
    fn on_connect(&mut self, _conn: u64) {
        self.0.update(|c| c.connects += 1);
    }
    fn on_receive(&mut self, conn: u64, data: &[u8], _kind: MsgKind) -> bool {
        self.0.update(|c| {
            let n = c.received.entry(conn).or_insert(0);
            if data.len() >= 8 {
                let seq = u64::from_be_bytes(data[..8].try_into().unwrap());
                if seq != *n {
                    c.out_of_order += 1;
                }
            }
            *n += 1;
        });
        false
    }
    fn on_writable(&mut self, _conn: u64) {
        self.0.update(|c| c.writable += 1);
    }
    fn on_close(&mut self, conn: u64, code: u16, _reason: &str) {
        self.0.update(|c| {
            c.closes += 1;
            *c.close_codes.entry(code).or_insert(0) += 1;
            if c.keep_closed_ids {
                c.closed_ids.push((conn, code));
            }
        });
    }
    fn on_error(&mut self, _conn: u64, _err: &Error) {
        self.0.update(|c| c.errors += 1);
    }
}

/// A message of `len` bytes (at least 8) starting with the big-endian sequence number `seq`.
pub fn seq_msg(seq: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0x5a; len.max(8)];
    v[..8].copy_from_slice(&seq.to_be_bytes());
    v
}

/// The sequence number of a message made by `seq_msg`.
pub fn seq_of(data: &[u8]) -> u64 {
    u64::from_be_bytes(data[..8].try_into().unwrap())
}

/// Open file descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident set size of this process, in KiB.
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}
