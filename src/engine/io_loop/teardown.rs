//! The end of one connection, whatever ended it (its peer, an error, a timer, a policy, the
//! drain): its share of the memory budget is returned, it is reported (on_error, on_close, or a
//! log line for a server handshake nobody saw), what it still held is counted or carried over,
//! and it is handed to the part that takes over: lingering for a failed server handshake, the
//! client for the next attempt.
//!
//! Separate because every other part ends connections, and the rules for what an ended
//! connection owes (each unsent message counted exactly once, one on_close per on_connect)
//! must hold in one place whichever part ended it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::engine::conn::End;
use crate::engine::log::Level;
use crate::engine::sink::Sink;
use crate::ws_log;

use super::broadcast_sync::detach_broadcast;
use super::IoLoop;

impl IoLoop {
    /// Removes a connection: reports it, accounts for what it still held, and (client) plans
    /// the next attempt.
    pub(super) fn teardown(&mut self, id: u64, end: End, sink: &mut Sink) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        c.unaccount(&self.shared);
        self.publish_buffered();
        if c.refuse {
            self.acceptor.refusal_ended();
        }
        let (code, reason) = c.close_status(&end);
        let err = c.error_of(&end);
        if !self.is_client() && !c.opened && err.is_some() && self.lingering.has_room() {
            // A refused handshake (a TLS alert, typically) must reach the client: closing now,
            // with its request unread, would send a reset that can overtake the alert.
            ws_log!(
                Level::Info,
                "handshake with {} failed: {}",
                c.peer,
                err.as_ref().map_or("", |e| e.message.as_str())
            );
            self.linger(id, c.stream);
            return;
        }
        let _ = self.poll.registry().deregister(c.stream.tcp());
        let shared = self.shared.clone();
        if self.is_client() {
            if c.opened {
                shared.client_conn.store(0, Ordering::Release);
            }
            // Written but unacknowledged messages go first, then what was never written.
            let mut back = c.take_unacked(&shared);
            back.extend(c.take_unsent_data());
            self.client.carry_back(back);
            // What its last writes (the closing handshake's) completed, before its on_close.
            sink.sent(id);
        } else if c.opened {
            shared.conns_write().remove(&id);
            c.queue.closed.store(true, Ordering::Release);
            let lost = c.take_unsent_data().len() as u64 + c.queue.clear();
            shared.dropped(lost);
            detach_broadcast(&mut c, &shared);
        }
        if c.opened {
            shared
                .stats
                .connections_current
                .fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(e) = err {
            if c.opened || self.is_client() {
                sink.error(if c.opened { id } else { 0 }, e);
            } else {
                ws_log!(
                    Level::Info,
                    "dropped connection from {} before its handshake: {}",
                    c.peer,
                    e.message
                );
            }
        }
        if c.opened {
            sink.close(id, code, &reason);
        }
        if self.is_client() {
            let has_data = self.client_has_data();
            let deadline = self.shutdown.deadline();
            self.client
                .connection_ended(c.opened_at, Instant::now(), deadline, has_data);
        }
    }
}
