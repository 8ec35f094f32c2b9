//! The memory budget (`max_buffered_bytes`, default 256 MiB): what every connection holds for
//! incoming data (its read buffer and the message being reassembled) is counted in one
//! context-wide total. When the total is over the budget, the connections holding the most are
//! closed with 1008, largest first, until it is within again. (The other input limit,
//! `message_timeout`, is a per-connection timer and lives with the connection.)
//!
//! Separate because it is the one decision that looks across all connections after any of them
//! grew, and because which connection pays is a policy that must stay easy to read and test.

use std::sync::atomic::Ordering;

use crate::engine::conn::{End, Phase};
use crate::engine::log::Level;
use crate::engine::sink::Sink;
use crate::ws_log;

use super::IoLoop;

/// The connection to close first: the one holding the most bytes, if any holds a byte at all.
/// Among equals the last one seen is chosen.
fn largest_holder(holders: impl Iterator<Item = (u64, usize)>) -> Option<(u64, usize)> {
    holders
        .max_by_key(|&(_, held)| held)
        .filter(|&(_, held)| held > 0)
}

impl IoLoop {
    /// After a connection was serviced: enforces the budget if the total is over it, and
    /// publishes the total.
    pub(super) fn keep_budget(&mut self, sink: &mut Sink) {
        if self.shared.held.load(Ordering::Relaxed) > self.shared.input_budget() {
            self.enforce_budget(sink);
        }
        self.publish_buffered();
    }

    /// Over the memory budget: closes the connections holding the most, largest first, with
    /// 1008 until the context is within it again. What they held is freed at once; each is
    /// reported through on_error when it ends. Only runs when the budget is exceeded, so the
    /// scan over all connections is no cost of normal operation.
    fn enforce_budget(&mut self, sink: &mut Sink) {
        let shared = self.shared.clone();
        let budget = shared.input_budget();
        while shared.held.load(Ordering::Relaxed) > budget {
            let holders = self.conns.iter().map(|(&id, c)| (id, c.held()));
            let Some((id, held)) = largest_holder(holders) else {
                return;
            };
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            ws_log!(
                Level::Warn,
                "memory budget of {budget} bytes reached: closing connection {id} ({}), which holds {held} (1008)",
                c.peer
            );
            if c.phase == Phase::Open {
                c.give_up_input(
                    crate::engine::parser::Violation {
                        code: 1008,
                        reason: "memory budget exceeded",
                    },
                    &shared,
                );
                // Its close frame is written on the next round (poll does not wait).
                self.to_read.push(id);
                self.arm(id);
            } else {
                // Still handshaking: there is no close frame to send.
                self.teardown(id, End::Handshake("memory budget exceeded".into()), sink);
            }
        }
    }

    /// Makes the budget total visible in the stats (after the budget was enforced): what is
    /// held for input and what a client keeps for acknowledgements.
    pub(super) fn publish_buffered(&self) {
        let held = (self.shared.held.load(Ordering::Relaxed)
            + self.shared.kept.load(Ordering::Relaxed)) as u64;
        self.shared
            .stats
            .buffered_bytes
            .store(held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_holder_pays_first() {
        let holders = [(1, 100), (2, 5000), (3, 4999), (4, 0)];
        assert_eq!(largest_holder(holders.into_iter()), Some((2, 5000)));
    }

    #[test]
    fn nobody_pays_when_nobody_holds_anything() {
        assert_eq!(largest_holder([(1, 0), (2, 0)].into_iter()), None);
        assert_eq!(largest_holder(std::iter::empty()), None);
    }

    #[test]
    fn among_equal_holders_the_last_seen_pays() {
        // The same choice as max_by_key over the connection map, which the loop relied on.
        assert_eq!(
            largest_holder([(7, 10), (8, 10)].into_iter()),
            Some((8, 10))
        );
    }
}
