//! A server's compression of what it sends with permessage-deflate. A server always answers
//! `server_no_context_takeover` (see `deflate.rs`), so each message is compressed on its own and
//! one context-wide compressor serves every connection: a broadcast is compressed once, by the
//! broadcasting thread, and the same frame goes to every deflate subscriber; a message sent to
//! one connection is compressed on the I/O thread when that connection's batch takes it.
//!
//! The compressor is made on first use (a server with compression on but no deflate client
//! holds none) and costs about 330 KiB per context (zlib's state with a 32 KiB window), not per
//! connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use super::deflate::Deflater;
use super::frame;

/// The context-wide compressor of a server with compression on.
#[derive(Debug)]
pub struct ServerDeflater {
    level: u32,
    deflater: Mutex<Option<Deflater>>,
    /// Messages compressed (each broadcast counts once however many subscribers it has).
    pub compressed: AtomicU64,
}

impl ServerDeflater {
    /// A compressor at zlib `level` (1..9), made on first use.
    pub fn new(level: u32) -> Self {
        ServerDeflater {
            level,
            deflater: Mutex::new(None),
            compressed: AtomicU64::new(0),
        }
    }

    /// The compressed frame (RSV1 set, unmasked) carrying `payload` with opcode `op`.
    pub fn frame(&self, op: u8, payload: &[u8]) -> Bytes {
        let mut z = Vec::with_capacity(payload.len() / 2 + 64);
        {
            let mut g = self.deflater.lock().unwrap_or_else(|e| e.into_inner());
            g.get_or_insert_with(|| Deflater::new(self.level, 15, false))
                .message(payload, &mut z);
        }
        self.compressed.fetch_add(1, Ordering::Relaxed);
        frame::encode_rsv(op, frame::RSV1, &z, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::deflate::Inflater;

    #[test]
    fn server_frames_inflate_on_their_own() {
        let d = ServerDeflater::new(6);
        for msg in [&b"first line first line"[..], b"second line", b""] {
            let f = d.frame(frame::opcode::TEXT, msg);
            assert_eq!(f[0], 0x80 | frame::RSV1 | frame::opcode::TEXT);
            let (_, mask, z) = frame::parts(&f);
            assert!(mask.is_none());
            // Each frame inflates with a fresh inflater: no context is carried over.
            let mut out = Vec::new();
            let mut i = Inflater::new(false);
            i.feed(z, &mut out, 1000).unwrap();
            i.finish(&mut out, 1000).unwrap();
            assert_eq!(out, msg);
        }
        assert_eq!(d.compressed.load(Ordering::Relaxed), 3);
    }
}
