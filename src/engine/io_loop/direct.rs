//! The I/O loop's side of writing from the sending threads (`engine/direct.rs`): which socket
//! it hands over while it waits, and where a partly written message goes when it wakes.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::engine::conn::Chunk;
use crate::engine::queue::OutMsg;

use super::IoLoop;

impl IoLoop {
    /// The client connection's socket if it is idle (`Conn::direct_fd`) and this thread is
    /// about to wait at all (`timeout` not zero: with reading left to do it is back at once).
    pub(super) fn direct_fd(&self, timeout: Option<Duration>) -> Option<RawFd> {
        if !self.is_client() || timeout == Some(Duration::ZERO) {
            return None;
        }
        let id = self.shared.client_conn.load(Ordering::Acquire);
        self.conns.get(&id).and_then(|c| c.direct_fd())
    }

    /// A message a sending thread wrote in part: first in the client connection's batch (the
    /// connection it was written to: only this thread ends connections, and not while a sending
    /// thread holds the socket). The sender scheduled the queue, so the connection is serviced
    /// in this round.
    pub(super) fn take_back_direct(&mut self, m: OutMsg, written: usize) {
        let id = self.shared.client_conn.load(Ordering::Acquire);
        match self.conns.get_mut(&id) {
            Some(c) => c.take_back_direct(m, written),
            // Not reached (see above); if it were, the message is sent again, whole, on the
            // next connection rather than lost.
            None => self.client.carry_back(vec![Chunk::direct(m, 0)]),
        }
    }
}
