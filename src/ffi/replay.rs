//! The replay retention option (docs/replay.md): how many broadcasts a server keeps so that a
//! subscriber reconnecting with `since` gets what it missed.

use super::options::{require_mode, with_options};
use super::types::{ws_options, ws_status};
use crate::engine::{Error, Mode, Retention, DEFAULT_REPLAY_BYTES};

/// Most broadcasts that may be retained.
const MAX_REPLAY_MESSAGES: u64 = 1 << 30;

/// Server only: keeps the last `messages` broadcasts (rounded up to the log's segments), within
/// at most `bytes` bytes of frames, even after every subscriber wrote them, so that a subscriber
/// that connects with `?since=N` (or a `WS-API-Since: N` header) first gets the broadcasts after
/// N that are still held (docs/replay.md). `messages` 0 turns retention off (the default: a
/// broadcast every subscriber wrote is freed); `bytes` 0 means 64 MiB. Retained bytes count in
/// `ws_options_set_max_buffered_bytes` together with incoming data, and retained history is what
/// goes first when the budget is short; a subscriber's unwritten broadcasts are never dropped
/// for retention. With retention above `ws_options_set_queue_capacity`, a subscriber counts as
/// slow only once it falls behind the retained history. `messages` above 2^30: invalid.
#[no_mangle]
pub extern "C" fn ws_options_set_replay_retention(
    o: *mut ws_options,
    messages: u64,
    bytes: usize,
) -> ws_status {
    with_options(o, "ws_options_set_replay_retention", |opts| {
        require_mode(opts, Mode::Server, "ws_options_set_replay_retention")?;
        if messages > MAX_REPLAY_MESSAGES {
            return Err(Error::invalid(format!(
                "replay retention of {messages} messages is above {MAX_REPLAY_MESSAGES}"
            )));
        }
        opts.config.replay = match messages {
            0 => Retention::OFF,
            _ => Retention {
                messages,
                bytes: if bytes == 0 {
                    DEFAULT_REPLAY_BYTES
                } else {
                    bytes
                },
            },
        };
        Ok(())
    })
}
