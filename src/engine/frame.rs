//! Outgoing frames: header encoding and client masking. A frame is built once, in the thread
//! that calls send, as one allocation holding header and payload; the I/O thread only writes it.

use bytes::Bytes;

/// Frame opcodes (RFC 6455, 5.2).
pub mod opcode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// Text data.
    pub const TEXT: u8 = 0x1;
    /// Binary data.
    pub const BINARY: u8 = 0x2;
    /// Connection close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// Largest frame header: 2 bytes + 8 length bytes + 4 mask bytes.
pub const MAX_HEADER: usize = 14;

/// The header of a final frame with a payload of `len` bytes: the bytes and how many are used.
pub fn header(op: u8, len: usize, mask: Option<[u8; 4]>) -> ([u8; MAX_HEADER], usize) {
    let mut h = [0u8; MAX_HEADER];
    h[0] = 0x80 | op;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut n = 2;
    if len < 126 {
        h[1] = mask_bit | len as u8;
    } else if len <= u16::MAX as usize {
        h[1] = mask_bit | 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        n = 4;
    } else {
        h[1] = mask_bit | 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        n = 10;
    }
    if let Some(key) = mask {
        h[n..n + 4].copy_from_slice(&key);
        n += 4;
    }
    (h, n)
}

/// Builds a complete final frame. `mask` is given by clients (RFC 6455 requires client frames to
/// be masked with an unpredictable key) and `None` for servers.
pub fn encode(op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Bytes {
    encode_rsv(op, 0, payload, mask)
}

/// RSV1: set on the first frame of a compressed message (RFC 7692 6).
pub const RSV1: u8 = 0x40;

/// Builds a complete final frame with the reserved bits `rsv` set in its first byte.
pub fn encode_rsv(op: u8, rsv: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Bytes {
    let (mut h, n) = header(op, payload.len(), mask);
    h[0] |= rsv;
    // Exactly full: `Bytes::from` a Vec whose length equals its capacity takes it over without a
    // second allocation.
    let mut out = Vec::with_capacity(n + payload.len());
    out.extend_from_slice(&h[..n]);
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[n..], key, 0);
    }
    Bytes::from(out)
}

/// The opcode, mask key and (still masked) payload of a complete frame built by `encode`.
pub fn parts(frame: &[u8]) -> (u8, Option<[u8; 4]>, &[u8]) {
    let op = frame[0] & 0x0f;
    let (mut pos, masked) = match frame[1] & 0x7f {
        126 => (4, frame[1] & 0x80 != 0),
        127 => (10, frame[1] & 0x80 != 0),
        _ => (2, frame[1] & 0x80 != 0),
    };
    let mask = masked.then(|| {
        let k = [frame[pos], frame[pos + 1], frame[pos + 2], frame[pos + 3]];
        pos += 4;
        k
    });
    (op, mask, &frame[pos..])
}

/// XORs `data` with the mask `key`, where `data` starts `offset` bytes into the payload.
///
/// Word at a time: the key is rotated to `offset` once (one rotate of a 32-bit word) and repeated
/// over a 64-bit word; blocks of 32 bytes (four words, which the compiler turns into 16-byte
/// vector operations, 64 bytes per step), then words, then the last few bytes one by one. Words
/// are read and written through `from_ne_bytes`, so this is the same on any alignment and either
/// byte order.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // Byte i of the rotated key is key[(offset + i) % 4], in memory order.
    let shift = 8 * (offset % 4) as u32;
    let k = u32::from_ne_bytes(key);
    let k = if cfg!(target_endian = "little") {
        k.rotate_right(shift)
    } else {
        k.rotate_left(shift)
    };
    // The four bytes twice, in memory order, whatever the byte order.
    let k8 = (k as u64) << 32 | k as u64;
    let mut blocks = data.chunks_exact_mut(32);
    for b in &mut blocks {
        for w in b.chunks_exact_mut(8) {
            let v = u64::from_ne_bytes(w.try_into().expect("8 bytes")) ^ k8;
            w.copy_from_slice(&v.to_ne_bytes());
        }
    }
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_ne_bytes(w.try_into().expect("8 bytes")) ^ k8;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, m) in words.into_remainder().iter_mut().zip(k8.to_ne_bytes()) {
        *b ^= m;
    }
}

/// The payload of a close frame: the code in network order, then the reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(reason.as_bytes());
    p
}

/// Whether `code` may be sent in, or accepted from, a close frame (RFC 6455, 7.4).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths() {
        assert_eq!(encode(opcode::TEXT, &[0; 125], None).len(), 127);
        assert_eq!(encode(opcode::TEXT, &[0; 126], None).len(), 130);
        assert_eq!(encode(opcode::TEXT, &[0; 70000], None).len(), 70010);
        assert_eq!(encode(opcode::TEXT, b"hi", Some([1, 2, 3, 4])).len(), 8);
    }

    #[test]
    fn masked_frames_carry_the_masked_payload() {
        let key = [0xa1, 0x02, 0x7f, 0xee];
        for len in [0, 1, 31, 32, 33, 100, 1000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let f = encode(opcode::BINARY, &payload, Some(key));
            let (_, n) = header(opcode::BINARY, len, Some(key));
            assert_eq!(&f[n - 4..n], &key);
            let mut body = f[n..].to_vec();
            apply_mask(&mut body, key, 0);
            assert_eq!(body, payload);
        }
    }

    #[test]
    fn mask_roundtrip_at_any_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let orig: Vec<u8> = (0..100u8).collect();
        let mut d = orig.clone();
        apply_mask(&mut d, key, 0);
        assert_ne!(d, orig);
        apply_mask(&mut d[..37], key, 0);
        apply_mask(&mut d[37..], key, 37);
        assert_eq!(d, orig);
    }

    #[test]
    fn mask_matches_a_byte_at_a_time_reference_for_every_length_and_offset() {
        let key = [0x9a, 0x3c, 0x01, 0xf7];
        for len in 0..=80usize {
            for offset in 0..8usize {
                let orig: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
                let expect: Vec<u8> = orig
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(offset + i) % 4])
                    .collect();
                // Also at every alignment of the slice within its allocation.
                for lead in 0..8usize {
                    let mut buf = vec![0u8; lead];
                    buf.extend_from_slice(&orig);
                    apply_mask(&mut buf[lead..], key, offset);
                    assert_eq!(&buf[lead..], &expect[..], "len {len} offset {offset}");
                    assert!(buf[..lead].iter().all(|&b| b == 0));
                }
            }
        }
    }

    #[test]
    fn close_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(valid_close_code(ok), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
        ] {
            assert!(!valid_close_code(bad), "{bad}");
        }
    }
}
