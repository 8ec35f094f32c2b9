//! The byte stream under a connection: plain TCP or TLS, with the same non-blocking read/write
//! surface, so the connection code does not depend on which it is.
//!
//! TLS runs over the non-blocking socket inside the event loop: the handshake is driven by the
//! first reads and writes (each answering `WouldBlock` until it is complete), so a slow or silent
//! peer never blocks the loop, and the connection's handshake deadline covers it.
//!
//! Readiness: a TLS read may need the socket writable (sending a handshake message or an alert)
//! and a TLS write may need it readable. `WouldBlock` from a TLS stream therefore means "retry on
//! the next event of either kind"; the I/O loop marks a TLS connection both readable and writable
//! on every event it gets.

use std::fmt;
use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use mio::net::TcpStream;
use openssl::ssl::{ErrorCode, SslStream};

use super::sys::writev_nosignal;
use super::tls::{self, TlsSetup};

/// Largest batch handed to one SSL_write (coalescing many small frames into few TLS records).
const TLS_WRITE_BATCH: usize = 64 * 1024;

/// What a connection needs of its byte stream: non-blocking reads and gathered writes, whether a
/// write must be resumed with the same bytes, and a half-close. The real `Stream` implements it;
/// the connection's unit tests drive it over an in-memory stream. Registration with the poll is not
/// part of it: the I/O loop does that on `Stream` itself.
pub trait Transport {
    /// Reads what is available: `Ok(0)` is the end of the stream, `WouldBlock` means nothing now.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Reads what is available, at most `max` bytes and what the spare capacity of `buf` holds,
    /// appending it to `buf` (the same answers as `read`). For a large message read straight
    /// into its own buffer; the default zeroes the room first and reads into it.
    fn read_append(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let old = buf.len();
        buf.resize(old + max.min(buf.capacity() - old), 0);
        let r = self.read(&mut buf[old..]);
        buf.truncate(old + *r.as_ref().unwrap_or(&0));
        r
    }
    /// Writes a prefix of `bufs` (in order), or answers `WouldBlock` when nothing fits now.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Whether an earlier write must be resumed before other bytes may go (a TLS batch that
    /// OpenSSL holds, see `TlsStream`).
    fn write_pending(&self) -> bool;
    /// Sends FIN after the last write.
    fn shutdown_write(&mut self);
    /// The socket's descriptor when the bytes written to it are the frames themselves (plain
    /// TCP), for a sending thread's direct write (`direct.rs`); None over TLS.
    fn plain_fd(&self) -> Option<RawFd> {
        None
    }
}

impl Transport for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Stream::read(self, buf)
    }

    fn read_append(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        Stream::read_append(self, buf, max)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Stream::write_vectored(self, bufs)
    }

    fn write_pending(&self) -> bool {
        Stream::write_pending(self)
    }

    fn shutdown_write(&mut self) {
        Stream::shutdown_write(self)
    }

    fn plain_fd(&self) -> Option<RawFd> {
        match self {
            Stream::Plain(s) => Some(s.as_raw_fd()),
            Stream::Tls(_) => None,
        }
    }
}

/// A connection's transport.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
}

impl Stream {
    /// Wraps a new socket: plain, or a TLS session whose handshake starts with the first I/O.
    pub fn new(tcp: TcpStream, tls: Option<&TlsSetup>) -> io::Result<Stream> {
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(t) => Ok(Stream::Tls(Box::new(TlsStream {
                ssl: t.session(tcp)?,
                handshaken: false,
                wbuf: Vec::new(),
                wpos: 0,
                reported: 0,
            }))),
        }
    }

    /// Whether this is a TLS stream (whose reads and writes may wait for either readiness).
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The socket, for registering with the poll.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.ssl.get_mut(),
        }
    }

    /// Reads what is available. `Ok(0)` is the end of the stream (for TLS: close_notify, or the
    /// peer closing TCP without it once the handshake is done).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }

    /// Reads what is available, at most `max` bytes and what the spare capacity of `buf` holds,
    /// straight into that spare capacity (no zeroing, no copy), appending it: the same answers
    /// as `read`.
    pub fn read_append(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => super::sys::recv_append(s, buf, max),
            Stream::Tls(t) => t.read_append(buf, max),
        }
    }

    /// Writes many buffers in one call where the transport allows it.
    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => writev_nosignal(s, bufs),
            Stream::Tls(t) => t.write_vectored(bufs),
        }
    }

    /// Whether a TLS batch from an earlier write is still being written: the next write goes on
    /// with it whatever buffers it is given, so only a caller passing the same leading bytes
    /// (the whole write batch) may write now.
    pub fn write_pending(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => !t.wbuf.is_empty(),
        }
    }

    /// Sends FIN after the last write (the peer then sees EOF).
    ///
    /// TLS sends no close_notify alert: the WebSocket close frames, authenticated inside TLS,
    /// already end the session, and a peer that closes its socket as soon as it has the close
    /// frame would answer the alert arriving after it with a TCP reset. A close_notify from the
    /// peer is understood, and so is its absence.
    pub fn shutdown_write(&mut self) {
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

/// A TLS session over a non-blocking socket.
///
/// Writes: OpenSSL requires a write that answered "want write" to be retried with the same bytes,
/// and it has already encrypted (part of) them. So the batch handed to SSL_write is copied into
/// `wbuf` and retried from there until it is all out. To keep the caller's queue from changing
/// under it meanwhile, every byte of the batch but the last is reported written as soon as
/// OpenSSL holds it; the last is reported only when the whole batch reached the socket. The
/// caller's first unwritten chunk is thus always partly written, and it keeps calling until the
/// batch is out. (The batch never ends on the first byte of a fresh buffer, for the same reason.)
pub struct TlsStream {
    ssl: SslStream<TcpStream>,
    handshaken: bool,
    /// The batch being written.
    wbuf: Vec<u8>,
    /// How much of `wbuf` OpenSSL has written to the socket.
    wpos: usize,
    /// How much of `wbuf` has been reported written to the caller.
    reported: usize,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("socket", self.ssl.get_ref())
            .field("handshaken", &self.handshaken)
            .field("pending", &(self.wbuf.len() - self.wpos))
            .finish()
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

impl TlsStream {
    fn failure(&self, e: &openssl::ssl::Error) -> io::Error {
        tls::io_failure(tls::describe(e, self.ssl.ssl().verify_result()))
    }

    /// Advances the handshake; `Ok` once it is complete, `WouldBlock` while it waits for the peer.
    fn handshake(&mut self) -> io::Result<()> {
        if self.handshaken {
            return Ok(());
        }
        match self.ssl.do_handshake() {
            Ok(()) => {
                self.handshaken = true;
                Ok(())
            }
            Err(e) => match e.code() {
                ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Err(would_block()),
                _ if tls::is_unexpected_eof(&e) => Err(tls::io_failure(
                    "the peer closed the connection during the TLS handshake (is it a TLS endpoint?)"
                        .to_string(),
                )),
                _ => Err(self.failure(&e)),
            },
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handshake()?;
        let r = self.ssl.ssl_read(buf);
        self.read_result(r)
    }

    fn read_append(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        self.handshake()?;
        let r = super::sys::ssl_read_append(&mut self.ssl, buf, max);
        self.read_result(r)
    }

    /// What an SSL_read's answer means to the connection.
    fn read_result(&self, r: Result<usize, openssl::ssl::Error>) -> io::Result<usize> {
        match r {
            Ok(n) => Ok(n),
            Err(e) => match e.code() {
                ErrorCode::ZERO_RETURN => Ok(0),
                ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Err(would_block()),
                // A peer that closes TCP without close_notify is common (and harmless here:
                // the WebSocket layer has its own close frame and reports a missing one).
                _ if tls::is_unexpected_eof(&e) => Ok(0),
                ErrorCode::SYSCALL => Err(e
                    .into_io_error()
                    .unwrap_or_else(|e| tls::io_failure(e.to_string()))),
                _ => Err(self.failure(&e)),
            },
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.handshake()?;
        if self.wbuf.is_empty() {
            let mut last: Option<(usize, usize)> = None; // (index of buffer, bytes taken from it)
            for (i, b) in bufs.iter().enumerate() {
                let take = b.len().min(TLS_WRITE_BATCH - self.wbuf.len());
                if take == 0 {
                    if b.is_empty() {
                        continue;
                    }
                    break;
                }
                self.wbuf.extend_from_slice(&b[..take]);
                last = Some((i, take));
            }
            if let Some((i, 1)) = last {
                if i > 0 && self.wbuf.len() > 1 {
                    // Do not end the batch on the first byte of a buffer (see the type's doc).
                    self.wbuf.pop();
                }
            }
            if self.wbuf.is_empty() {
                return Ok(0);
            }
            self.wpos = 0;
            self.reported = 0;
        }
        let len = self.wbuf.len();
        while self.wpos < len {
            match self.ssl.ssl_write(&self.wbuf[self.wpos..]) {
                Ok(n) => self.wpos += n,
                Err(e) => {
                    return match e.code() {
                        ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => {
                            let more = (len - 1).saturating_sub(self.reported);
                            if more == 0 {
                                Err(would_block())
                            } else {
                                self.reported += more;
                                Ok(more)
                            }
                        }
                        ErrorCode::SYSCALL if e.io_error().is_some() => Err(e
                            .into_io_error()
                            .unwrap_or_else(|e| tls::io_failure(e.to_string()))),
                        _ => Err(self.failure(&e)),
                    };
                }
            }
        }
        let n = len - self.reported;
        self.wbuf.clear();
        if self.wbuf.capacity() > 4 * TLS_WRITE_BATCH {
            self.wbuf = Vec::new();
        }
        self.wpos = 0;
        self.reported = 0;
        Ok(n)
    }
}
