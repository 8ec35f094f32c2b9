//! The byte stream under a connection. Plain TCP today; TLS is another variant with the same
//! non-blocking read/write surface, so the connection code does not change with it.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// A connection's transport.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
}

impl Stream {
    /// The socket, for registering with the poll.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
        }
    }

    /// Reads what is available.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
        }
    }

    /// Writes many buffers in one call where the transport allows it.
    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write_vectored(bufs),
        }
    }

    /// Sends FIN after the last write (the peer then sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}
