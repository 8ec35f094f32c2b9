//! Encoding a final frame straight into a send queue's block (`queue.rs`): the header, then the
//! payload masked while it is copied (one pass over the bytes instead of a copy and a second
//! pass to mask), with no buffer of its own and no zero-fill of the room first (the writing into
//! spare capacity is `sys::append_frame`, with the engine's other `unsafe`). `frame::encode`
//! stays for frames that live alone (control frames, large messages, tests).

use bytes::BytesMut;

use super::frame;

/// Appends the final frame `op` carrying `payload` to `buf`, masked with `mask` when given (a
/// client's frames); answers the frame's length.
pub fn encode_into(buf: &mut BytesMut, op: u8, payload: &[u8], mask: Option<[u8; 4]>) -> usize {
    let (h, n) = frame::header(op, payload.len(), mask);
    super::sys::append_frame(buf, &h, n, payload, mask)
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
