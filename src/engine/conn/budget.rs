//! The connection's share of the context's memory budget (its read buffer and the message being
//! reassembled), and the message timeout that bounds how long an incomplete message may hold it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Conn, Phase};
use crate::engine::parser::Violation;
use crate::engine::shared::Shared;
use crate::engine::stream::Transport;

impl<S: Transport> Conn<S> {
    /// Bytes this connection holds for incoming data: its read buffer and the message being
    /// reassembled (capacities: what the allocator really holds). A client's messages kept
    /// until acknowledged are counted apart (`Shared::kept`, see `Shared::input_budget`).
    pub fn held(&self) -> usize {
        self.inbuf.capacity() + self.parser.buffered()
    }

    /// Brings this connection's share of the context's budget total up to date; answers the
    /// total.
    pub fn account(&mut self, shared: &Shared) -> usize {
        let now = self.held();
        if now >= self.accounted {
            shared
                .held
                .fetch_add(now - self.accounted, Ordering::Relaxed);
        } else {
            shared
                .held
                .fetch_sub(self.accounted - now, Ordering::Relaxed);
        }
        self.accounted = now;
        shared.held.load(Ordering::Relaxed)
    }

    /// Takes this connection's share out of the budget total (it is being removed).
    pub fn unaccount(&mut self, shared: &Shared) {
        shared.held.fetch_sub(self.accounted, Ordering::Relaxed);
        self.accounted = 0;
    }

    /// Closes with `v` (1008 for the budget and the message timeout) and frees what the
    /// connection held for incoming data at once: nothing more it sends is kept.
    pub fn give_up_input(&mut self, v: Violation, shared: &Shared) {
        if self.violation.is_none() && self.close_received.is_none() {
            self.fail(v);
        }
        self.parser.discard();
        self.inbuf = Vec::new();
        self.message_deadline = None;
        self.account(shared);
    }

    /// Starts or stops the message timeout: it runs while an incoming message is incomplete (a
    /// fragmented message, or a frame whose bytes stopped arriving) and the application is not
    /// the one holding reading back.
    pub(super) fn track_message(&mut self, shared: &Shared) {
        let incomplete = self.phase == Phase::Open
            && self.violation.is_none()
            && self.close_received.is_none()
            && !self.rx_paused
            && !self.held_back
            && (self.parser.in_message() || !self.inbuf.is_empty());
        let limit = shared.config.message_timeout;
        if !incomplete || limit.is_zero() {
            self.message_deadline = None;
        } else if self.message_deadline.is_none() {
            self.message_deadline = Some(Instant::now() + limit);
        }
    }
}
