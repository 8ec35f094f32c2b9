//! Encoding a final frame straight into a send queue's block (`queue.rs`): the header, then the
//! payload masked while it is copied (one pass over the bytes instead of a copy and a second
//! pass to mask), with no buffer of its own. `frame::encode` stays for frames that live alone
//! (control frames, large messages, tests).

use bytes::BytesMut;

use super::frame;

/// Masking works on blocks of this many bytes, which the compiler turns into vector operations.
const BLOCK: usize = 32;

/// Appends the final frame `op` carrying `payload` to `buf`, masked with `mask` when given (a
/// client's frames); answers the frame's length.
pub fn encode_into(buf: &mut BytesMut, op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> usize {
    let (h, n) = frame::header(op, payload.len(), mask);
    let start = buf.len();
    let total = n + payload.len();
    // Zero-filled first (no unsafe in the engine): a memset of bytes about to be overwritten,
    // cheaper than masking in a second pass.
    buf.resize(start + total, 0);
    let out = &mut buf[start..];
    // Constant lengths: copies the compiler inlines, not a call to `memcpy` per frame.
    match n {
        2 => out[..2].copy_from_slice(&h[..2]),
        4 => out[..4].copy_from_slice(&h[..4]),
        6 => out[..6].copy_from_slice(&h[..6]),
        8 => out[..8].copy_from_slice(&h[..8]),
        10 => out[..10].copy_from_slice(&h[..10]),
        _ => out[..n].copy_from_slice(&h[..n]),
    }
    match mask {
        Some(key) => masked_copy(&mut out[n..], payload, key),
        None => out[n..].copy_from_slice(payload),
    }
    total
}

/// `dst = src XOR key` repeated, from the first payload byte (`dst` and `src` of equal length).
pub fn masked_copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut k = [0u8; BLOCK];
    for c in k.chunks_exact_mut(4) {
        c.copy_from_slice(&key);
    }
    let whole = n - n % BLOCK;
    let mut i = 0;
    while i < whole {
        // Fixed-size arrays: no bounds check inside, so the loop becomes vector XORs.
        let s: &[u8; BLOCK] = src[i..i + BLOCK].try_into().expect("a whole block");
        let d: &mut [u8; BLOCK] = (&mut dst[i..i + BLOCK]).try_into().expect("a whole block");
        for j in 0..BLOCK {
            d[j] = s[j] ^ k[j];
        }
        i += BLOCK;
    }
    // The tail: whole 4-byte words (the key's period), then the last 0-3 bytes.
    let k32 = u32::from_ne_bytes(key);
    let (dt, st) = (&mut dst[whole..], &src[whole..]);
    let words = st.len() / 4 * 4;
    for (d, s) in dt[..words]
        .chunks_exact_mut(4)
        .zip(st[..words].chunks_exact(4))
    {
        let w = u32::from_ne_bytes([s[0], s[1], s[2], s[3]]) ^ k32;
        d.copy_from_slice(&w.to_ne_bytes());
    }
    for ((d, s), m) in dt[words..].iter_mut().zip(&st[words..]).zip(key.iter()) {
        *d = s ^ m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::frame::{encode, opcode};

    #[test]
    fn same_bytes_as_encode() {
        let key = [0xa1, 0x02, 0x7f, 0xee];
        // Every tail length around the 32-byte blocks and 4-byte words; each header size.
        let lens = (0..70).chain([100, 125, 126, 1000, 65535, 65536, 70000]);
        for len in lens {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            for mask in [None, Some(key)] {
                let mut buf = BytesMut::from(&b"before"[..]);
                let n = encode_into(&mut buf, opcode::BINARY, &payload, mask);
                let want = encode(opcode::BINARY, &payload, mask);
                assert_eq!(n, want.len(), "len {len}");
                assert_eq!(&buf[..6], b"before");
                assert_eq!(&buf[6..], &want[..], "len {len} mask {mask:?}");
            }
        }
    }
}
