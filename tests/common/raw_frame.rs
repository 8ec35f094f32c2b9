//! A raw server socket's view of what our client writes: one masked frame at a time, for tests
//! that play a peer by hand (acknowledgement pongs, compression bits, sequence numbers).

use std::io::Read;

/// Reads one frame sent by a client (masked): its first byte (FIN, RSV bits, opcode) and its
/// unmasked payload.
pub fn read_client_frame(s: &mut impl Read) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut e = [0u8; 2];
            s.read_exact(&mut e).unwrap();
            u16::from_be_bytes(e) as usize
        }
        127 => {
            let mut e = [0u8; 8];
            s.read_exact(&mut e).unwrap();
            u64::from_be_bytes(e) as usize
        }
        l => l as usize,
    };
    let mut mask = [0u8; 4];
    s.read_exact(&mut mask).unwrap();
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    for (k, b) in p.iter_mut().enumerate() {
        *b ^= mask[k % 4];
    }
    (h[0], p)
}
