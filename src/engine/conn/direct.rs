//! The connection's side of writing from the sending thread (`engine/direct.rs`): when its
//! socket may be handed to a sending thread, and taking back what that thread left partly
//! written.

use std::os::fd::RawFd;

use super::{Chunk, Closing, Conn, Phase};
use crate::engine::queue::OutMsg;
use crate::engine::stream::Transport;

impl<S: Transport> Conn<S> {
    /// Client: the socket a sending thread may write the next data frame to while the I/O
    /// thread waits: plain TCP, open with no close asked, sent or received, no compression and
    /// no acknowledgements negotiated, nothing in the batch, carried over, held or withheld, and
    /// the socket's last write taken in full. None otherwise (then everything goes through the
    /// queue).
    pub fn direct_fd(&self) -> Option<RawFd> {
        let idle = !self.is_server
            && self.opened
            && self.phase == Phase::Open
            && self.may_send_data()
            && self.closing == Closing::NotYet
            && self.writable
            && self.out.is_empty()
            && self.carry.is_empty()
            && self.unflushed.is_empty()
            && self.withheld.is_empty()
            && self.stash.is_none()
            && self.tx_acks.is_none()
            && !self.compressed();
        idle.then(|| self.stream.plain_fd()).flatten()
    }

    /// A message a sending thread wrote `written` bytes of (maybe none) goes first in the batch
    /// (the batch was empty when the socket was handed over, see `direct_fd`), to be finished
    /// and counted like any queued message.
    pub fn take_back_direct(&mut self, m: OutMsg, written: usize) {
        self.out_bytes += m.frame.len() - written;
        self.out.push_front(Chunk::direct(m, written));
    }
}

impl Chunk {
    /// A message a sending thread wrote `written` bytes of, as a chunk of the batch.
    pub fn direct(m: OutMsg, written: usize) -> Chunk {
        Chunk {
            data: m.frame,
            off: written,
            payload: Some(m.payload_len),
            seq: m.seq,
            resend: false,
            plain: None,
        }
    }
}
