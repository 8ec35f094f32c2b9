//! Compressing and inflating permessage-deflate messages with zlib-rs (through flate2): raw
//! deflate, each message ended by a sync flush whose trailing `00 00 ff ff` is left off the wire
//! (RFC 7692 7.2.1) and put back before inflating (7.2.2).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The tail a sync flush ends with, left off every compressed message.
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// Inflated bytes produced per step: the most a message may hold beyond `max_message_size`
/// before it is refused.
pub const INFLATE_STEP: usize = 16 * 1024;

/// What an inflating connection holds (zlib-rs's inflate state and its 32 KiB window), counted
/// in the context's buffer budget for every connection with permessage-deflate.
pub const INFLATER_BYTES: usize = 48 * 1024;

/// Compresses messages with one deflate stream.
pub struct Deflater {
    c: Compress,
    takeover: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("takeover", &self.takeover)
            .finish()
    }
}

impl Deflater {
    /// A compressor at zlib `level` (1..9) with a window of `window_bits` (9..15); with
    /// `takeover` its window carries over from one message to the next.
    pub fn new(level: u32, window_bits: u8, takeover: bool) -> Self {
        debug_assert!((9..=15).contains(&window_bits));
        Deflater {
            c: Compress::new_with_window_bits(
                Compression::new(level.clamp(1, 9)),
                false,
                window_bits.clamp(9, 15),
            ),
            takeover,
        }
    }

    /// Appends the compressed form of `data` (a whole message) to `out`.
    pub fn message(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let before = self.c.total_in();
        out.reserve(data.len() / 2 + 64);
        loop {
            let done = (self.c.total_in() - before) as usize;
            self.c
                .compress_vec(&data[done..], out, FlushCompress::Sync)
                .expect("deflate with valid parameters does not fail");
            // zlib's rule: the flush is complete once all input is in and it left output room.
            if (self.c.total_in() - before) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.len() >= start + 4 && out[out.len() - 4..] == TAIL {
            out.truncate(out.len() - 4);
        }
        if out.len() == start {
            // Nothing to flush (an empty message after a flush): zlib wrote nothing, and the
            // tail alone is no valid block. 0x00 starts an empty stored block that the tail
            // completes (RFC 7692 7.2.3.6).
            out.push(0);
        }
        if !self.takeover {
            self.c.reset();
        }
    }
}

/// Why an inflated message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// It would be larger than the limit (1009).
    TooBig,
    /// The compressed data is invalid (1007).
    Invalid,
}

/// Inflates the messages of one connection.
pub struct Inflater {
    d: Decompress,
    takeover: bool,
    /// The stream ended with a final block inside the current message.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("takeover", &self.takeover)
            .finish()
    }
}

impl Inflater {
    /// An inflater with a 32 KiB window (it reads data made with any window); with `takeover`
    /// the window carries over from one message to the next.
    pub fn new(takeover: bool) -> Self {
        Inflater {
            d: Decompress::new_with_window_bits(false, 15),
            takeover,
            ended: false,
        }
    }

    /// Inflates `input` (part of a message) onto `out`, never letting `out` grow past `limit`
    /// plus one step: a decompression bomb is refused with `TooBig` before it is inflated.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        while !self.ended {
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            if out.capacity() == out.len() {
                // One byte past the limit is enough to know it is exceeded.
                let room = (limit + 1 - out.len()).min(INFLATE_STEP.max(out.len() / 2));
                out.reserve_exact(room.max(1));
            }
            let (in0, out0) = (self.d.total_in(), out.len());
            let status = self
                .d
                .decompress_vec(input, out, FlushDecompress::None)
                .map_err(|_| InflateError::Invalid)?;
            let used = (self.d.total_in() - in0) as usize;
            input = &input[used..];
            if status == Status::StreamEnd {
                self.ended = true;
            }
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            let room_left = out.len() < out.capacity();
            if input.is_empty() && room_left {
                return Ok(());
            }
            if room_left && used == 0 && out.len() == out0 && !self.ended {
                // Input left, output room left, and no progress: the data cannot go on.
                return Err(InflateError::Invalid);
            }
        }
        Ok(())
    }

    /// Ends a message: inflates the tail left off the wire, then forgets the window unless the
    /// peer keeps its context.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let r = self.feed(&TAIL, out, limit);
        if !self.takeover || self.ended || r.is_err() {
            self.d.reset(false);
            self.ended = false;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(level: u32, bits: u8, takeover: bool, msgs: &[&[u8]]) {
        let mut d = Deflater::new(level, bits, takeover);
        let mut i = Inflater::new(takeover);
        for m in msgs {
            let mut z = Vec::new();
            d.message(m, &mut z);
            assert!(!z.ends_with(&TAIL));
            let mut out = Vec::new();
            // Fed in pieces, as fragments arrive.
            for part in z.chunks(7) {
                i.feed(part, &mut out, 1 << 20).unwrap();
            }
            i.finish(&mut out, 1 << 20).unwrap();
            assert_eq!(&out[..], *m);
        }
    }

    #[test]
    fn messages_roundtrip_with_and_without_takeover() {
        let big: Vec<u8> = (0..200_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 7) as u8)
            .collect();
        let msgs: [&[u8]; 5] = [b"hello hello hello", b"", &big, b"", b"hello hello again"];
        for bits in [9, 12, 15] {
            for level in [1, 9] {
                roundtrip(level, bits, true, &msgs);
                roundtrip(level, bits, false, &msgs);
            }
        }
        // Empty messages in a row, with and without context takeover.
        roundtrip(6, 15, true, &[b"a", b"", b"", b"b", b""]);
    }

    #[test]
    fn a_bomb_is_refused_without_inflating_it() {
        let zeros = vec![0u8; 10 << 20];
        let mut z = Vec::new();
        Deflater::new(9, 15, false).message(&zeros, &mut z);
        assert!(z.len() < 20_000, "{}", z.len());
        let mut out = Vec::new();
        let r = Inflater::new(false).feed(&z, &mut out, 100_000);
        assert_eq!(r, Err(InflateError::TooBig));
        assert!(
            out.capacity() <= 100_001 + INFLATE_STEP,
            "{}",
            out.capacity()
        );
    }

    #[test]
    fn garbage_is_invalid() {
        let mut out = Vec::new();
        let mut i = Inflater::new(true);
        let r = i
            .feed(&[0xff; 64], &mut out, 1000)
            .and_then(|_| i.finish(&mut out, 1000));
        assert_eq!(r, Err(InflateError::Invalid));
    }
}
