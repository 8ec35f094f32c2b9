//! Replay for subscribers, the handshake side (the protocol is docs/replay.md).
//!
//! Broadcasts are numbered 1, 2, 3... in the order the server accepted them (broadcast log
//! position + 1), for the context's lifetime. The 101 answer carries `WS-API-Seq: <the number
//! the next broadcast will get>`. A client asking `?since=N` (or with a `WS-API-Since: N`
//! header) first gets one text message `{"ws_api":"replay","first":F,"missed":M}`, then every
//! broadcast the log still holds after N, then the live ones: the k-th message after the
//! metadata (k = 0, 1, ...) is broadcast F + k; M broadcasts after N were no longer held. N
//! above the newest number comes from an earlier run of the server: it counts as 0.
//!
//! Separate because it is the whole of what replay adds to the opening handshake; the log only
//! lets a subscriber start at an older cursor (`BroadcastLog::subscribe_at`).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::broadcast::BroadcastLog;
use super::frame;
use super::handshake::http_response;

/// Response header: the number the next broadcast will get.
pub const SEQ_HEADER: &str = "WS-API-Seq";
/// Request header asking for replay (the query parameter `since` does the same).
pub const SINCE_HEADER: &str = "WS-API-Since";
/// Query parameter asking for replay.
const SINCE_PARAM: &str = "since";

/// Where a subscriber starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribed {
    /// Its broadcast log cursor.
    pub cursor: u64,
    /// The number of the next broadcast, for the `WS-API-Seq` header.
    pub next_seq: u64,
    /// With replay: the number of the first broadcast it gets and how many after its `since`
    /// were no longer held.
    pub replay: Option<(u64, u64)>,
}

/// The `since` a request asks for, if any; an error (answered with 400) when it is not a
/// decimal number that fits 64 bits, is given twice with different values, or is empty.
pub fn requested(head: &[u8]) -> Result<Option<u64>, String> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hs);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return Err("malformed HTTP request".into());
    }
    let query = req
        .path
        .and_then(|t| t.split_once('?'))
        .map_or("", |(_, q)| q);
    let params = query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| *k == SINCE_PARAM)
        .map(|(_, v)| v);
    let headers = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(SINCE_HEADER))
        .map(|h| std::str::from_utf8(h.value).unwrap_or("\u{fffd}").trim());
    let mut since = None;
    for v in params.chain(headers) {
        let n = parse_since(v)?;
        if since.is_some_and(|s| s != n) {
            return Err("since is given twice with different values".into());
        }
        since = Some(n);
    }
    Ok(since)
}

/// A `since` value: decimal digits only (no sign, no spaces), at most 2^64 - 1.
fn parse_since(v: &str) -> Result<u64, String> {
    let shown: String = v.chars().take(32).collect();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("since {shown:?} is not a decimal number"));
    }
    v.parse::<u64>()
        .map_err(|_| format!("since {shown:?} is above 18446744073709551615"))
}

/// Subscribes to `log`: from now on, or, with `since`, from the first broadcast after it that
/// the log still holds (chosen under the log's lock, so none comes in between). The replayed
/// broadcasts are added to `queued` (`messages_queued`), as a broadcast adds one per subscriber.
pub fn subscribe(
    log: &BroadcastLog,
    since: Option<u64>,
    z: bool,
    queued: &AtomicU64,
) -> Subscribed {
    let mut asked = 0;
    let start = log.subscribe_at(z, |_, head| match since {
        None => head,
        Some(n) => {
            // Numbers above the newest come from an earlier run: replay all that is held.
            asked = if n > head { 0 } else { n };
            asked
        }
    });
    queued.fetch_add(start.head - start.cursor, Ordering::SeqCst);
    Subscribed {
        cursor: start.cursor,
        next_seq: start.head + 1,
        replay: since.map(|_| (start.cursor + 1, start.cursor - asked)),
    }
}

/// The 101 answer `resp` with the `WS-API-Seq` header added.
pub fn with_seq_header(mut resp: Vec<u8>, next_seq: u64) -> Vec<u8> {
    crate::engine::handshake::add_response_header(&mut resp, SEQ_HEADER, &next_seq.to_string());
    resp
}

/// The metadata message a replay subscriber gets first (a text frame, unmasked).
pub fn metadata_frame(first: u64, missed: u64) -> Bytes {
    let text = format!("{{\"ws_api\":\"replay\",\"first\":{first},\"missed\":{missed}}}");
    frame::encode(frame::opcode::TEXT, text.as_bytes(), None)
}

/// The refusal of a request whose `since` is not acceptable.
pub fn bad_since(why: &str) -> Vec<u8> {
    http_response("400 Bad Request", "", &format!("{why}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::retention::Retention;

    fn req(target: &str, extra: &str) -> Vec<u8> {
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").into_bytes()
    }

    #[test]
    fn since_comes_from_the_query_or_the_header() {
        assert_eq!(requested(&req("/", "")), Ok(None));
        assert_eq!(requested(&req("/?since=0", "")), Ok(Some(0)));
        assert_eq!(requested(&req("/p?a=1&since=42&b", "")), Ok(Some(42)));
        assert_eq!(requested(&req("/", "ws-api-since: 7\r\n")), Ok(Some(7)));
        assert_eq!(
            requested(&req("/?since=7", "WS-API-Since: 7\r\n")),
            Ok(Some(7))
        );
        assert_eq!(
            requested(&req("/?since=18446744073709551615", "")),
            Ok(Some(u64::MAX))
        );
        // Not "since": ignored.
        assert_eq!(requested(&req("/?sincere=x&xsince=1", "")), Ok(None));
    }

    #[test]
    fn hostile_since_values_are_refused() {
        for bad in [
            "/?since=",
            "/?since",
            "/?since=-1",
            "/?since=+1",
            "/?since=1e3",
            "/?since=0x10",
            "/?since=%31",
            "/?since=18446744073709551616",
            "/?since=99999999999999999999999999",
            "/?since=1&since=2",
        ] {
            assert!(requested(&req(bad, "")).is_err(), "{bad}");
        }
        assert!(requested(&req("/?since=1", "WS-API-Since: 2\r\n")).is_err());
        assert!(requested(&req("/", "WS-API-Since: \r\n")).is_err());
        assert!(requested(&req("/", "WS-API-Since: 1 2\r\n")).is_err());
    }

    #[test]
    fn a_subscriber_starts_after_since_and_is_told_what_it_missed() {
        let log = BroadcastLog::with_retention(
            64,
            Retention {
                messages: 8,
                bytes: 1 << 20,
            },
        );
        let q = AtomicU64::new(0);
        for _ in 0..20 {
            log.append(frame::opcode::TEXT, b"x", &q);
        }
        // Nobody subscribed: all 20 are numbered and (within capacity) held.
        let q = AtomicU64::new(0);
        let subscribe = |since| subscribe(&log, since, false, &q);
        let live = subscribe(None);
        assert_eq!((live.cursor, live.next_seq, live.replay), (20, 21, None));
        let mid = subscribe(Some(15));
        assert_eq!((mid.cursor, mid.replay), (15, Some((16, 0))));
        let all = subscribe(Some(0));
        assert_eq!((all.cursor, all.replay), (0, Some((1, 0))));
        let now = subscribe(Some(20));
        assert_eq!(now.replay, Some((21, 0)));
        // From an earlier run of the server: as 0.
        let later = subscribe(Some(500));
        assert_eq!(later.replay, Some((1, 0)));
        // What each has to write is queued: 5 + 20 + 0 + 20.
        assert_eq!(q.load(Ordering::SeqCst), 45);
    }

    #[test]
    fn the_seq_header_goes_at_the_end_of_the_head() {
        let r = with_seq_header(b"HTTP/1.1 101 X\r\nA: b\r\n\r\n".to_vec(), 5);
        assert_eq!(r, b"HTTP/1.1 101 X\r\nA: b\r\nWS-API-Seq: 5\r\n\r\n");
        let m = metadata_frame(3, 2);
        assert_eq!(&m[2..], br#"{"ws_api":"replay","first":3,"missed":2}"#);
    }
}
