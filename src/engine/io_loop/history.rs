//! Replay history and the memory budget: the broadcasts a server retains for replay
//! (`retention.rs`) count in `max_buffered_bytes` together with what connections hold for
//! incoming data, and history is what goes first. Each sync of the broadcast log keeps at most
//! what the budget leaves after incoming data; a connection is closed for the budget only when
//! incoming data alone is over it (`budget.rs`).
//!
//! Separate because it is the one place where the broadcast log and the input budget meet.

use std::sync::atomic::Ordering;

use super::IoLoop;

impl IoLoop {
    /// Brings the I/O thread's view of the broadcast log up to date (`min`: the lowest
    /// subscriber cursor, if any), keeping history within the budget's share.
    pub(super) fn sync_log(&mut self, min: Option<u64>) {
        let history_max = self.history_allowance();
        self.shared
            .bcast
            .sync_within(&mut self.view, min.unwrap_or(u64::MAX), history_max);
        if self.shared.bcast.retains() {
            self.publish_buffered();
        }
    }

    /// After a connection grew: when history and incoming data together are over the budget,
    /// the next sync (at the end of this round) trims history first.
    pub(super) fn keep_history_within_budget(&mut self) {
        if self.shared.bcast.history_bytes() > self.history_allowance() {
            self.view.unsettle();
        }
    }

    /// What the budget leaves for history after incoming data.
    fn history_allowance(&self) -> usize {
        let held = self.shared.held.load(Ordering::Relaxed);
        self.shared.config.max_buffered_bytes.saturating_sub(held)
    }
}
