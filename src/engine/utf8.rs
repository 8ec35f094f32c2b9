//! The UTF-8 check of text messages (RFC 6455 8.1: a text message that is not valid UTF-8
//! fails the connection), sent and received alike.
//!
//! Log lines are nearly always ASCII, and `core::str::from_utf8` costs them a large fixed part
//! per call (callgrind: 136 instructions for 16 bytes, 189 for 200; 163 per 200-byte message
//! in the engine's profile, 11% of the sending process and 29% of the receiving one;
//! docs/bench.md "Profile"). So the ASCII prefix is skipped 32 bytes at a time first (four
//! 8-byte words OR-ed, one test of their high bits), the last few bytes by `<[u8]>::is_ascii`,
//! and only what follows the first non-ASCII block goes through `from_utf8` (200 bytes: 92
//! instructions; 16 bytes: 27). Exact: ASCII bytes are whole characters, so `data` is valid
//! UTF-8 exactly when the rest after its ASCII prefix is, and no character straddles the cut.

/// Bytes tested per step of the ASCII scan.
const STEP: usize = 32;
/// The high bit of every byte of a word: set in a word holding a non-ASCII byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Length of the prefix of `data` made of whole `STEP`-byte blocks that are all ASCII.
#[inline]
fn ascii_blocks(data: &[u8]) -> usize {
    let mut n = 0;
    for block in data.chunks_exact(STEP) {
        let mut any = 0u64;
        for w in block.chunks_exact(8) {
            any |= u64::from_ne_bytes(w.try_into().expect("8-byte chunk"));
        }
        if any & HIGH_BITS != 0 {
            break;
        }
        n += STEP;
    }
    n
}

/// Whether `data` is valid UTF-8. Not inlined: the callers are the hot loops of the parser and
/// of `ws_send`, which stay small enough to be inlined themselves.
#[inline(never)]
pub fn is_valid(data: &[u8]) -> bool {
    let rest = &data[ascii_blocks(data)..];
    rest.is_ascii() || std::str::from_utf8(rest).is_ok()
}

/// Whether `data` can still become valid UTF-8 (it may end inside a character): the length of
/// its valid prefix, or None for a definite error. For a text message arriving in fragments.
pub fn valid_prefix(data: &[u8]) -> Option<usize> {
    let skip = ascii_blocks(data);
    match std::str::from_utf8(&data[skip..]) {
        Ok(_) => Some(data.len()),
        Err(e) if e.error_len().is_none() => Some(skip + e.valid_up_to()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the std check says, as `valid_prefix` answers.
    fn reference(data: &[u8]) -> Option<usize> {
        match std::str::from_utf8(data) {
            Ok(_) => Some(data.len()),
            Err(e) if e.error_len().is_none() => Some(e.valid_up_to()),
            Err(_) => None,
        }
    }

    #[test]
    fn agrees_with_std_wherever_the_first_non_ascii_byte_is() {
        let tails: [&[u8]; 6] = [
            "é".as_bytes(),       // valid, 2 bytes
            "€".as_bytes(),       // valid, 3 bytes
            &"€".as_bytes()[..2], // truncated at the end: may still become valid
            &[0xff],              // never valid
            &[0xc3, 0x28],        // a bad continuation byte
            &[0xed, 0xa0, 0x80],  // a surrogate
        ];
        for len in 0..100 {
            let ascii = vec![b'a'; len];
            assert_eq!(valid_prefix(&ascii), Some(len));
            assert!(is_valid(&ascii));
            for tail in tails {
                for after in [0usize, 1, 40] {
                    let mut d = ascii.clone();
                    d.extend_from_slice(tail);
                    d.extend(std::iter::repeat_n(b'z', after));
                    assert_eq!(valid_prefix(&d), reference(&d), "{len} {tail:?} {after}");
                    assert_eq!(
                        is_valid(&d),
                        std::str::from_utf8(&d).is_ok(),
                        "{len} {tail:?}"
                    );
                }
            }
        }
    }
}
