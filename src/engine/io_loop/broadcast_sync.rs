//! Server broadcast sync: takes in the segments of the shared broadcast log (`broadcast.rs`)
//! that API threads appended, frees what every subscriber has written, wakes the subscribers
//! that have news, and applies the slow policy (`drop_oldest` or `disconnect`) to those that fell
//! behind what the log keeps.
//!
//! Separate because the broadcast log is the only state shared by every server connection: this
//! is where one connection's slowness is kept from costing the others memory.

use crate::engine::config::SlowPolicy;
use crate::engine::conn::{Chunk, Conn, CLOSE_TIMEOUT};
use crate::engine::log::Level;
use crate::engine::shared::Shared;
use crate::engine::sink::Sink;
use crate::ws_log;

use super::IoLoop;

/// What becomes of a subscriber that fell behind what the broadcast log keeps.
#[derive(Debug, PartialEq, Eq)]
enum Slow {
    /// It is closing anyway: it leaves the log (what it had not written is dropped).
    Detach,
    /// drop_oldest: it goes on from the oldest broadcast kept; `lost` are dropped.
    SkipAhead {
        /// Broadcasts it will never write.
        lost: u64,
    },
    /// disconnect: closed with 1008 at once, its queue dropped.
    Disconnect,
}

/// The slow policy for a subscriber at `cursor` when the log keeps only from `base` on.
fn slow_policy(policy: SlowPolicy, closing: bool, cursor: u64, base: u64) -> Slow {
    match policy {
        _ if closing => Slow::Detach,
        SlowPolicy::DropOldest => Slow::SkipAhead {
            lost: base - cursor,
        },
        SlowPolicy::Disconnect => Slow::Disconnect,
    }
}

impl IoLoop {
    /// Server: takes in what was broadcast since the last look (forgetting what every
    /// subscriber has written), applies the slow policy to subscribers that fell behind what
    /// the log keeps, and writes the news to the others.
    pub(super) fn sync_broadcast(&mut self, sink: &mut Sink, scratch: &mut [u8]) {
        if self.is_client() {
            return;
        }
        let seen = self.view.head();
        if self.shared.bcast.head() == seen && (self.view.base() == seen || self.view.settled()) {
            return;
        }
        let min = self.conns.values().filter_map(|c| c.bcast).min();
        self.sync_log(min);
        let (base, head) = (self.view.base(), self.view.head());
        // Decided by what the sync found: broadcasts made since the check above count too.
        let fresh = head != seen;
        if min.is_some_and(|m| m < base) {
            for id in self.subscribers_before(base) {
                self.slow_subscriber(id, base);
            }
        }
        if fresh {
            for id in self.subscribers_before(head) {
                self.service(id, sink, scratch);
            }
        }
    }

    /// The connections whose next broadcast to write comes before `seq`.
    fn subscribers_before(&self, seq: u64) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| c.bcast.is_some_and(|cur| cur < seq))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A subscriber lost the broadcasts before `base`: under drop-oldest it goes on from there
    /// (what it lost is counted); under disconnect it is closed.
    fn slow_subscriber(&mut self, id: u64, base: u64) {
        let shared = self.shared.clone();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let Some(cursor) = c.bcast else {
            return;
        };
        let closing = c.close_sent.is_some() || c.close_received.is_some();
        // A replay subscriber counts its messages (docs/replay.md): skipping some would break
        // its count silently, so it is disconnected whatever the policy, and told what it
        // missed when it comes back with `since`.
        let policy = match c.replay {
            true => SlowPolicy::Disconnect,
            false => shared.config.slow_policy,
        };
        match slow_policy(policy, closing, cursor, base) {
            Slow::Detach => detach_broadcast(c, &shared),
            Slow::SkipAhead { lost } => {
                shared.dropped(lost);
                c.bcast = Some(base);
            }
            Slow::Disconnect => {
                self.disconnect_slow(id);
                // Its close has a deadline now, which the peer may never let it meet.
                self.arm(id);
            }
        }
    }

    /// The slow-subscriber policy's disconnect: what it had queued is dropped (and counted), and
    /// it is closed with 1008 without waiting for its queue.
    fn disconnect_slow(&mut self, id: u64) {
        let shared = self.shared.clone();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        ws_log!(
            Level::Warn,
            "connection {id} ({}) is too slow: disconnecting it (1008)",
            c.peer
        );
        shared.conns_write().remove(&id);
        detach_broadcast(c, &shared);
        let partial = c.out.front().is_some_and(|ch| ch.off > 0);
        let keep = usize::from(partial);
        let dropped = c
            .out
            .iter()
            .skip(keep)
            .filter(|ch| ch.payload.is_some())
            .count() as u64
            + c.queue.clear();
        let kept: Vec<Chunk> = c.out.drain(..).take(keep).collect();
        c.out.extend(kept);
        shared.dropped(dropped);
        c.request_close(1008, "subscriber too slow", CLOSE_TIMEOUT);
    }
}

/// Takes a connection off the broadcast log; what it had not written of it is dropped.
pub(super) fn detach_broadcast(c: &mut Conn, shared: &Shared) {
    if let Some(cur) = c.bcast.take() {
        shared.dropped(shared.bcast.unsubscribe_lane(cur, c.bcast_lane()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_oldest_skips_to_the_oldest_kept_and_counts_what_was_lost() {
        let s = slow_policy(SlowPolicy::DropOldest, false, 90, 100);
        assert_eq!(s, Slow::SkipAhead { lost: 10 });
    }

    #[test]
    fn disconnect_closes_the_subscriber() {
        let s = slow_policy(SlowPolicy::Disconnect, false, 90, 100);
        assert_eq!(s, Slow::Disconnect);
    }

    #[test]
    fn a_closing_subscriber_only_leaves_the_log_whatever_the_policy() {
        for policy in [SlowPolicy::Disconnect, SlowPolicy::DropOldest] {
            assert_eq!(slow_policy(policy, true, 90, 100), Slow::Detach);
        }
    }
}
