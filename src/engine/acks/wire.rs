//! The wire format of acknowledgements: the handshake header and the pong payload
//! `ack <decimal N>`. Everything a peer has to implement is here (and in docs/acks.md).

/// The header both sides send in the opening handshake, with the value `1`.
pub const HEADER: &str = "WS-API-Ack";

/// The prefix of an acknowledgement pong's payload.
const PREFIX: &[u8] = b"ack ";

/// Whether an HTTP head (request or response) carries `WS-API-Ack: 1`. The head was already
/// parsed and accepted by the handshake; this only looks for the header.
pub fn in_head(head: &[u8]) -> bool {
    let mut rest = head;
    // Skip the request or status line; then one header per line.
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        rest = &rest[nl + 1..];
        let line = rest.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = std::str::from_utf8(value).unwrap_or("").trim();
        if name.eq_ignore_ascii_case(HEADER.as_bytes()) && value == "1" {
            return true;
        }
    }
    false
}

/// The pong payload acknowledging every message up to `n`.
pub fn encode(n: u64) -> Vec<u8> {
    format!("ack {n}").into_bytes()
}

/// What a pong's payload says: `None` for an ordinary pong (it does not start with `ack `),
/// `Some(Ok(n))` for an acknowledgement, `Some(Err(_))` for one that is malformed (not 1 to 20
/// ASCII digits after `ack `, or above 2^64 - 1).
pub fn parse(payload: &[u8]) -> Option<Result<u64, &'static str>> {
    let digits = payload.strip_prefix(PREFIX)?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return Some(Err("malformed acknowledgement (not `ack <decimal N>`)"));
    }
    // All ASCII digits, so valid UTF-8; only the value can overflow.
    Some(
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("acknowledgement number above 2^64 - 1"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_found_in_either_head_and_only_with_value_1() {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\nws-api-ack:  1 \r\n\r\n";
        assert!(in_head(req));
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nWS-API-Ack: 1\r\n\r\n";
        assert!(in_head(resp));
        assert!(!in_head(b"HTTP/1.1 101 OK\r\nWS-API-Ack: 2\r\n\r\n"));
        assert!(!in_head(b"HTTP/1.1 101 OK\r\nX-WS-API-Ack: 1\r\n\r\n"));
        assert!(!in_head(b"HTTP/1.1 101 OK\r\n\r\n"));
        // The status line is never a header.
        assert!(!in_head(b"WS-API-Ack: 1\r\n\r\n"));
    }

    #[test]
    fn payloads_round_trip_and_hostile_ones_are_refused() {
        assert_eq!(parse(&encode(0)), Some(Ok(0)));
        assert_eq!(parse(&encode(u64::MAX)), Some(Ok(u64::MAX)));
        assert_eq!(parse(b"\0\0\0\0\0\0\0\x01"), None, "a keepalive pong");
        assert_eq!(parse(b"acknowledged"), None);
        for bad in [
            &b"ack "[..],
            b"ack x",
            b"ack -1",
            b"ack +1",
            b"ack 1 ",
            b"ack 18446744073709551616",
            b"ack 000000000000000000001",
        ] {
            assert!(matches!(parse(bad), Some(Err(_))), "{bad:?}");
        }
    }
}
