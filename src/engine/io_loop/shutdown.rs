//! Shutdown of the I/O loop: the drain that `ws_destroy`/`ws_flush` start (close every open
//! connection with 1001 and wait for the queues until a deadline), the test of when the loop
//! may stop, and the final accounting of what was never sent.
//!
//! Separate because it is the one place where every other part (listener, connections, client
//! carry-over) is wound down together, and because its accounting (`unsent` is everything
//! dropped after the drain began) is a rule of the C contract that must not drift.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::IoLoop;
use crate::engine::conn::End;
use crate::engine::sink::Sink;

/// When the drain began, its deadline, and the drop count at that moment.
#[derive(Debug, Default)]
pub(super) struct Shutdown {
    /// The drain's deadline, once it began (or the moment of the final teardown).
    deadline: Option<Instant>,
    /// messages_dropped when the drain began: everything dropped after it is unsent.
    dropped_at_start: Option<u64>,
}

/// What is still under way when the loop asks whether the drain is over.
#[derive(Debug, Clone, Copy)]
pub(super) enum Left {
    /// Server: the connections still open or closing.
    Server {
        /// How many.
        conns: usize,
    },
    /// Client: whether data waits anywhere (carry-over, queue, connection) and whether a
    /// connection is open to deliver it.
    Client {
        /// Data waits to be sent.
        has_data: bool,
        /// A connection finished its opening handshake.
        opened: bool,
    },
}

impl Shutdown {
    /// The drain begins: it ends at `deadline` at the latest; `dropped_now` is the drop count
    /// that later drops are measured from.
    pub(super) fn begin(&mut self, deadline: Instant, dropped_now: u64) {
        self.deadline = Some(deadline);
        self.dropped_at_start = Some(dropped_now);
    }

    /// The drain's deadline, if it began.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the loop may stop at `now`. `left` is asked only when the deadline has not
    /// passed yet (it scans the connections).
    pub(super) fn done(&self, now: Instant, left: impl FnOnce() -> Left) -> bool {
        let Some(deadline) = self.deadline else {
            return false;
        };
        if now >= deadline {
            return true;
        }
        match left() {
            Left::Server { conns } => conns == 0,
            // Nothing left to deliver: a connection attempt still under way is not worth
            // waiting for, an open connection is still closing.
            Left::Client {
                has_data: false,
                opened,
            } => !opened,
            Left::Client { has_data: true, .. } => false,
        }
    }

    /// The final teardown begins at `now`: a client must not plan another attempt from here
    /// on, and without a drain (the loop ended on an error) the drops count from now.
    pub(super) fn finish(&mut self, now: Instant, dropped_now: u64) {
        self.deadline.get_or_insert(now);
        self.dropped_at_start.get_or_insert(dropped_now);
    }

    /// The messages never sent: what was dropped since the drain began, given the drop count
    /// now.
    pub(super) fn unsent(&self, dropped_now: u64) -> u64 {
        dropped_now.saturating_sub(self.dropped_at_start.unwrap_or(dropped_now))
    }
}

impl IoLoop {
    /// The drain begins (a command from `ws_destroy`/`ws_flush`): the listener closes, open
    /// connections are closed with 1001 within the deadline, server handshakes under way end.
    pub(super) fn begin_shutdown(
        &mut self,
        deadline: Instant,
        sink: &mut Sink,
        scratch: &mut [u8],
    ) {
        // Connections torn down from here on (their drain deadline passed) drop what they still
        // hold; that is unsent too, not only what abandon_all finds.
        let dropped = self.shared.stats.messages_dropped.load(Ordering::SeqCst);
        self.shutdown.begin(deadline, dropped);
        self.acceptor.close(self.poll.registry());
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            if c.opened {
                if c.close_sent.is_none() {
                    c.request_close(
                        1001,
                        "going away",
                        deadline.saturating_duration_since(Instant::now()),
                    );
                }
                self.service(id, sink, scratch);
            } else if !self.is_client() {
                self.teardown(id, End::Done, sink);
            }
        }
        self.client.cap_at(deadline);
    }

    /// Whether the loop may stop: the drain's deadline passed or nothing is left to wait for.
    pub(super) fn shutdown_done(&self) -> bool {
        self.shutdown.done(Instant::now(), || {
            if self.is_client() {
                Left::Client {
                    has_data: self.client_has_data(),
                    opened: self.conns.values().any(|c| c.opened),
                }
            } else {
                Left::Server {
                    conns: self.conns.len(),
                }
            }
        })
    }

    /// Final teardown: whatever is still queued anywhere is counted as unsent (and dropped).
    pub(super) fn abandon_all(&mut self, sink: &mut Sink) {
        let dropped = self.shared.stats.messages_dropped.load(Ordering::SeqCst);
        self.shutdown.finish(Instant::now(), dropped);
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        let shared = self.shared.clone();
        for c in self.conns.values_mut() {
            c.last_word(1001, "going away", &shared, &self.view);
        }
        for id in ids {
            let opened = self.conns.get(&id).is_some_and(|c| c.opened);
            let end = if opened {
                End::Timeout("context destroyed before the connection closed")
            } else {
                // An attempt cut short by destroy is no error of anybody's.
                End::Done
            };
            self.teardown(id, end, sink);
        }
        let leftover = self.client.abandon() + self.shared.client_queue.clear();
        self.shared.dropped(leftover);
        let dropped = self.shared.stats.messages_dropped.load(Ordering::SeqCst);
        self.shared
            .unsent
            .store(self.shutdown.unsent(dropped), Ordering::SeqCst);
        self.shared.notify_flushed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SERVER_IDLE: Left = Left::Server { conns: 0 };

    #[test]
    fn the_loop_runs_until_a_drain_begins() {
        let s = Shutdown::default();
        assert_eq!(s.deadline(), None);
        assert!(!s.done(Instant::now(), || SERVER_IDLE));
    }

    #[test]
    fn the_deadline_ends_the_drain_whatever_is_left() {
        let t0 = Instant::now();
        let mut s = Shutdown::default();
        s.begin(t0 + Duration::from_secs(2), 0);
        let busy = || Left::Client {
            has_data: true,
            opened: true,
        };
        assert!(!s.done(t0 + Duration::from_millis(1999), busy));
        assert!(s.done(t0 + Duration::from_secs(2), busy));
        assert!(s.done(t0 + Duration::from_secs(3), || Left::Server { conns: 5 }));
    }

    #[test]
    fn before_the_deadline_the_drain_waits_for_what_can_still_be_delivered() {
        let t0 = Instant::now();
        let mut s = Shutdown::default();
        s.begin(t0 + Duration::from_secs(2), 0);
        // Server: until every connection finished its close.
        assert!(!s.done(t0, || Left::Server { conns: 1 }));
        assert!(s.done(t0, || SERVER_IDLE));
        // Client with data waiting: even without a connection (one may come).
        for opened in [false, true] {
            assert!(!s.done(t0, || Left::Client {
                has_data: true,
                opened
            }));
        }
        // Client with nothing to send: an open connection is still closing, an attempt under
        // way is not worth waiting for.
        assert!(!s.done(t0, || Left::Client {
            has_data: false,
            opened: true
        }));
        assert!(s.done(t0, || Left::Client {
            has_data: false,
            opened: false
        }));
    }

    #[test]
    fn the_connections_are_not_scanned_once_the_deadline_passed() {
        let t0 = Instant::now();
        let mut s = Shutdown::default();
        s.begin(t0, 0);
        assert!(s.done(t0, || unreachable!("the deadline decides alone")));
    }

    #[test]
    fn unsent_counts_only_what_was_dropped_after_the_drain_began() {
        let t0 = Instant::now();
        let mut s = Shutdown::default();
        s.begin(t0 + Duration::from_secs(1), 10);
        // Drops during the drain (a connection's deadline passed) count, and the final
        // teardown keeps the drain's starting point.
        s.finish(t0 + Duration::from_secs(1), 15);
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(s.unsent(22), 12);
    }

    #[test]
    fn without_a_drain_unsent_counts_from_the_final_teardown() {
        let t0 = Instant::now();
        let mut s = Shutdown::default();
        s.finish(t0, 7);
        // The final teardown counts as shutdown: no client attempt is planned after it.
        assert_eq!(s.deadline(), Some(t0));
        assert_eq!(s.unsent(7), 0);
        assert_eq!(s.unsent(9), 2);
    }
}
