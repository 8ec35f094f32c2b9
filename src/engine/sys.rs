//! The engine's only `unsafe` code: the system calls std does not offer (or, for the clock, offers
//! at a cost that shows on a hot path), each wrapped in a safe function, reads into a buffer's
//! uninitialised spare capacity, and the send queue's frame encoding into one (`append_frame`).
//! `engine/mod.rs` denies `unsafe` everywhere else in the engine, so an audit of the engine's
//! memory safety is an audit of this file (the C boundary, `src/ffi/`, is the other place with
//! `unsafe`).

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use bytes::BytesMut;

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

/// Appends a frame to `buf` without zero-filling its room first: the first `head_len` bytes of
/// `head` (the header), then `payload`, XORed with `key` repeated from its first byte when given
/// (a client's frame, RFC 6455 5.3), each byte written once straight into the spare capacity.
/// Answers the frame's length. Safe Rust would have to zero the room before the masked copy
/// overwrote it (about 45 instructions per 200-byte message, docs/bench.md).
pub fn append_frame<const H: usize>(
    buf: &mut BytesMut,
    head: &[u8; H],
    head_len: usize,
    payload: &[u8],
    key: Option<[u8; 4]>,
) -> usize {
    assert!(head_len <= H, "a header longer than its array");
    let total = head_len + payload.len();
    // Room for the whole header array even when the frame is shorter: it is copied whole (a
    // fixed-size copy, no call to memcpy); what lies past `head_len` is overwritten by the
    // payload or stays spare, beyond the new length.
    let room = total.max(H);
    buf.reserve(room);
    let spare = &mut buf.spare_capacity_mut()[..room];
    let (h, _) = spare
        .split_first_chunk_mut::<H>()
        .expect("room for the header was reserved");
    *h = head.map(MaybeUninit::new);
    let body = &mut spare[head_len..total];
    match key {
        Some(key) => masked_copy_uninit(body, payload, key),
        None => {
            for (d, s) in body.iter_mut().zip(payload) {
                d.write(*s);
            }
        }
    }
    // SAFETY: the first `total` bytes of the spare capacity are initialised: `0..head_len` by
    // the header (`H >= head_len` bytes written), `head_len..total` by the loop above or by
    // `masked_copy_uninit`, both writing every byte of `body` (`body` and `payload` have the
    // same length, `total - head_len`). `total <= room` is within the capacity reserved.
    unsafe { buf.set_len(buf.len() + total) };
    total
}

/// Masking works on blocks of this many bytes, which the compiler turns into vector operations.
const MASK_BLOCK: usize = 32;

/// `dst = src XOR key` repeated from the first byte, writing every byte of `dst` (which must
/// be as long as `src`: whole blocks, then a tail shorter than a block, both covered whole).
fn masked_copy_uninit(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    assert_eq!(
        dst.len(),
        src.len(),
        "a masked copy between unequal lengths"
    );
    let mut k = [0u8; MASK_BLOCK];
    for c in k.chunks_exact_mut(4) {
        c.copy_from_slice(&key);
    }
    let mut d = dst.chunks_exact_mut(MASK_BLOCK);
    let mut s = src.chunks_exact(MASK_BLOCK);
    for (d, s) in (&mut d).zip(&mut s) {
        // Fixed-size arrays: no bounds check inside, so the loop becomes vector XORs.
        let d: &mut [MaybeUninit<u8>; MASK_BLOCK] = d.try_into().expect("a whole block");
        let s: &[u8; MASK_BLOCK] = s.try_into().expect("a whole block");
        for j in 0..MASK_BLOCK {
            d[j] = MaybeUninit::new(s[j] ^ k[j]);
        }
    }
    // The tails (same length, shorter than a block): whole 4-byte words (the key's period),
    // then the last 0-3 bytes, whose zip with the key covers them all.
    let k32 = u32::from_ne_bytes(key);
    let mut d = d.into_remainder().chunks_exact_mut(4);
    let mut s = s.remainder().chunks_exact(4);
    for (d, s) in (&mut d).zip(&mut s) {
        let w = u32::from_ne_bytes([s[0], s[1], s[2], s[3]]) ^ k32;
        for (d, b) in d.iter_mut().zip(w.to_ne_bytes()) {
            d.write(b);
        }
    }
    for (d, (s, m)) in d
        .into_remainder()
        .iter_mut()
        .zip(s.remainder().iter().zip(&key))
    {
        d.write(s ^ m);
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

    /// What a frame's payload must become: each byte XORed with the key byte of its place.
    fn masked_reference(payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
        let k = key.unwrap_or([0; 4]);
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ k[i % 4])
            .collect()
    }

    #[test]
    fn append_frame_writes_header_and_masked_payload() {
        let payload: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let head: [u8; 14] = std::array::from_fn(|i| 0xf0 | i as u8);
        // 256 keys, each byte value in each position; every payload length 0..=300 and each
        // header length; after bytes already there, with and without spare capacity.
        for b in 0..=255u8 {
            let key = [b, b ^ 0x5a, b.wrapping_add(1), !b];
            for len in 0..=300 {
                let p = &payload[..len];
                let head_len = [2, 6, 10, 14][len % 4];
                for mask in [Some(key), None] {
                    if mask.is_none() && b > 0 {
                        continue;
                    }
                    let mut buf = if len % 2 == 0 {
                        BytesMut::from(&b"before"[..])
                    } else {
                        let mut v = BytesMut::with_capacity(1000);
                        v.extend_from_slice(b"before");
                        v
                    };
                    let n = append_frame(&mut buf, &head, head_len, p, mask);
                    assert_eq!(n, head_len + len);
                    assert_eq!(buf.len(), 6 + n);
                    assert_eq!(&buf[..6], b"before");
                    assert_eq!(&buf[6..6 + head_len], &head[..head_len]);
                    assert_eq!(
                        &buf[6 + head_len..],
                        &masked_reference(p, mask)[..],
                        "len {len}"
                    );
                }
            }
        }
    }
}
