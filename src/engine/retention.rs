//! Replay retention: how much of the broadcast log a server keeps after every subscriber wrote
//! it, so that a subscriber reconnecting with `since` (`replay.rs`, docs/replay.md) gets what
//! it missed.
//!
//! The log (`broadcast.rs`) drops whole segments, oldest first. Without retention a segment goes
//! as soon as every subscriber wrote it (the behaviour and memory of a server without replay).
//! With retention it stays while it holds one of the last `messages` broadcasts, and while the
//! history (the segments every subscriber wrote) is within `bytes`. So the log keeps at least the
//! last `messages` broadcasts (more by up to one segment) unless the byte bound or the memory
//! budget (`max_buffered_bytes`) cuts them first; a live subscriber's data is never dropped for
//! retention's sake (only the slow policy drops that, as before).
//!
//! Separate because the rule is the whole policy of replay memory and must stay easy to test.

/// Default bound on the retained history's bytes once retention is on: 64 MiB.
pub const DEFAULT_REPLAY_BYTES: usize = 64 * 1024 * 1024;

/// How many broadcasts, and at most how many bytes of them, the log retains for replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The last this many broadcasts are kept; 0: retention off.
    pub messages: u64,
    /// Bytes (frames as written) of history kept at most.
    pub bytes: usize,
}

impl Retention {
    /// No retention: a broadcast every subscriber wrote is forgotten.
    pub const OFF: Retention = Retention {
        messages: 0,
        bytes: 0,
    };

    /// Whether broadcasts are kept for replay at all.
    pub fn on(&self) -> bool {
        self.messages > 0
    }

    /// Whether a segment of history (every subscriber wrote it) ending before `end` may go,
    /// the log's next broadcast being `head` and the history holding `history` bytes in all.
    pub fn drops(&self, end: u64, head: u64, history: usize) -> bool {
        end + self.messages <= head || history > self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_retention_every_written_segment_goes() {
        assert!(Retention::OFF.drops(10, 10, 0));
        assert!(Retention::OFF.drops(1, 1_000, 0));
    }

    #[test]
    fn the_last_messages_stay_while_within_bytes() {
        let r = Retention {
            messages: 100,
            bytes: 1000,
        };
        // A segment holding one of the last 100 broadcasts stays...
        assert!(!r.drops(901, 1000, 1000));
        // ...one entirely older goes...
        assert!(r.drops(900, 1000, 10));
        // ...and over the byte bound even recent history goes.
        assert!(r.drops(999, 1000, 1001));
    }
}
