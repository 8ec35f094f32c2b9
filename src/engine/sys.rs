//! The engine's only `unsafe` code: the system calls std does not offer (or, for the clock, offers
//! at a cost that shows on a hot path), each wrapped in a safe function, and reads into a
//! buffer's uninitialised spare capacity. `engine/mod.rs` denies `unsafe` everywhere else in the
//! engine, so an audit of the engine's memory safety is an audit of this file (the C boundary,
//! `src/ffi/`, is the other place with `unsafe`).

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `writev` without SIGPIPE. std's `write` passes MSG_NOSIGNAL but its `write_vectored` is a plain
/// writev, which raises SIGPIPE when the peer half-closed and then reset; a C host (unlike a Rust
/// program) does not ignore SIGPIPE, so that would kill the application. sendmsg takes the flag.
pub fn writev_nosignal(s: &impl AsRawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with struct iovec on Unix (std guarantees it); sendmsg only
    // reads the buffers. At most UIO_MAXIOV of them are passed: the rest is a short write.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    // SAFETY: `s` is an open socket for the duration of the borrow, and `msg` points at
    // `msg_iovlen` valid iovecs whose buffers outlive the call.
    let n = unsafe { libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Appends what `read` puts into the first bytes of `buf`'s spare capacity (at most `max`) to
/// `buf`. Private: `read` must answer how many bytes it initialised, which the two callers below
/// (the kernel's `recv`, OpenSSL's `read_uninit`) guarantee.
fn append_uninit<E>(
    buf: &mut Vec<u8>,
    max: usize,
    read: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<usize, E>,
) -> Result<usize, E> {
    let spare = buf.spare_capacity_mut();
    let room = spare.len().min(max);
    let n = read(&mut spare[..room])?;
    assert!(
        n <= room,
        "a read reported more bytes than it was given room for"
    );
    // SAFETY: the first `n` bytes of the spare capacity were initialised by `read` (see above),
    // and `n` is within the capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Reads from the socket straight into the spare capacity of `buf` (at most `max` bytes) and
/// appends them: a large message is read into its own buffer without zeroing it first or
/// copying it from a read buffer. Answers the bytes read (0: end of stream).
pub fn recv_append(s: &impl AsRawFd, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    append_uninit(buf, max, |spare| {
        // SAFETY: `s` is an open socket; `spare` is writable memory of `spare.len()` bytes, of
        // which recv initialises exactly the number it answers.
        let n = unsafe {
            libc::recv(
                s.as_raw_fd(),
                spare.as_mut_ptr().cast::<libc::c_void>(),
                spare.len(),
                0,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

/// The same for a TLS session: OpenSSL decrypts straight into the spare capacity of `buf`.
pub fn ssl_read_append<S: io::Read + io::Write>(
    ssl: &mut openssl::ssl::SslStream<S>,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<usize, openssl::ssl::Error> {
    // `ssl_read_uninit` answers how many bytes it initialised.
    append_uninit(buf, max, |spare| ssl.ssl_read_uninit(spare))
}

/// `send(2)` of one buffer on a socket named by its descriptor, non-blocking and without
/// SIGPIPE: the write from an application's thread (`direct.rs`), which holds the descriptor's
/// number rather than the socket. A descriptor that is not an open socket is an error
/// (EBADF/ENOTSOCK), never undefined behaviour; `direct.rs` makes sure it is the connection's.
pub fn send_nosignal(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes for the duration of the call, which only
    // reads it; the descriptor is a plain integer to the kernel.
    let n = unsafe {
        libc::send(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the direct write's run/pause rule reads it once or twice per
/// send, and std's `Instant` arithmetic (a checked `timespec` subtraction into a `Duration`)
/// costs more than the clock itself (about 60 instructions, docs/bench.md).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// A non-blocking eventfd: readable while its counter is non-zero. Closed when dropped.
#[derive(Debug)]
pub struct EventFd(File);

impl EventFd {
    /// Creates one (non-blocking, close-on-exec), counter 0.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: a plain syscall with constant flags; it touches no memory of ours.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd, is open, and nothing else owns it.
        Ok(EventFd(File::from(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    /// The descriptor, for poll/epoll (still owned here: the caller must not close it).
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Makes it readable (adds 1 to the counter). Cannot fail short of a counter overflow,
    /// which 2^64-2 signals without a read would take.
    pub fn signal(&self) {
        let _ = (&self.0).write(&1u64.to_ne_bytes());
    }

    /// Makes it unreadable (resets the counter); does nothing if it was not readable.
    pub fn clear(&self) {
        let mut v = [0u8; 8];
        let _ = (&self.0).read(&mut v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & libc::POLLIN != 0
    }

    #[test]
    fn eventfd_is_readable_between_signal_and_clear() {
        let e = EventFd::new().unwrap();
        assert!(!readable(e.fd()));
        e.signal();
        e.signal();
        assert!(readable(e.fd()));
        e.clear();
        assert!(!readable(e.fd()));
        e.clear(); // nothing to read: no block, no error
        assert!(!readable(e.fd()));
    }

    #[test]
    fn writev_nosignal_writes_every_slice_in_order() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut b, _) = l.accept().unwrap();
        let n = writev_nosignal(
            &a,
            &[IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cde")],
        )
        .unwrap();
        assert_eq!(n, 5);
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"abcde");
    }
}
