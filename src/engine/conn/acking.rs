//! A connection's side of end-to-end acknowledgements (docs/acks.md, `acks/`): the client keeps
//! what it wrote in its window until an `ack <N>` pong releases it, and refuses an impossible
//! one with 1002; the server numbers what it delivers and sends `ack <N>` pongs, batched (every
//! `ACK_EVERY` safe messages, `ACK_DELAY` after the last, or at once when it has nothing more
//! to read and every message received is safe, so a sender whose window is full never waits on
//! a timer).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{Chunk, Conn};
use crate::engine::acks::receiver::RxAck;
use crate::engine::acks::window::Window;
use crate::engine::acks::{wire, AckMode, ACK_DELAY, ACK_EVERY};
use crate::engine::frame::{self, opcode};
use crate::engine::log::Level;
use crate::engine::parser::Violation;
use crate::engine::shared::Shared;
use crate::engine::stream::Transport;
use crate::ws_log;

/// The receiver's state of one connection (the I/O thread's part).
#[derive(Debug)]
pub struct RxConn {
    /// The numbers shared with the delivering and acknowledging threads.
    shared: Arc<RxAck>,
    /// Data messages received on this connection (the last number given).
    received: u64,
    /// The last acknowledgement queued for the peer.
    sent: u64,
    /// When it was queued.
    sent_at: Instant,
    /// When the next acknowledgement is due, if one waits for the batch.
    pub(super) due: Option<Instant>,
    /// Manual mode: the application's acknowledgements do not wake the I/O thread while one
    /// waits for the batch timer (`RxAck::notified` held), except when everything delivered is
    /// safe (`RxAckTable::acknowledge`).
    hold_notified: bool,
}

impl RxConn {
    /// The number of the data message just received, with the numbers it goes to.
    pub(super) fn next_number(&mut self) -> (&RxAck, u64) {
        self.received += 1;
        (&self.shared, self.received)
    }
}

impl<S: Transport> Conn<S> {
    /// Client: the server's 101 in `head` accepted acknowledgements (or did not: the connection
    /// then works without them).
    pub(super) fn negotiate_acks_client(&mut self, head: &[u8], shared: &Shared) {
        let c = &shared.config;
        if c.acks == AckMode::Off {
            return;
        }
        if wire::in_head(head) {
            self.tx_acks = Some(Window::new(c.ack_window, c.max_buffered_bytes / 2));
        } else {
            ws_log!(
                Level::Warn,
                "connection {}: the server did not accept acknowledgements ({} header): \
                 messages count as acknowledged once written",
                self.id,
                wire::HEADER
            );
        }
    }

    /// Server: whether the request `head` offers acknowledgements that this context accepts;
    /// if so the 101 `resp` says so and the connection numbers what it receives.
    pub(super) fn negotiate_acks_server(
        &mut self,
        head: &[u8],
        resp: &mut Vec<u8>,
        shared: &Shared,
    ) {
        if shared.config.acks == AckMode::Off || !wire::in_head(head) {
            return;
        }
        crate::engine::handshake::add_response_header(resp, wire::HEADER, "1");
        self.rx_acks = Some(RxConn {
            shared: shared.rx_acks.opened(self.id),
            received: 0,
            sent: 0,
            sent_at: Instant::now(),
            due: None,
            hold_notified: shared.config.acks == AckMode::Manual,
        });
    }

    /// Server: queues an acknowledgement if one is owed and due. `idle`: the connection has
    /// nothing more to read now, so the sender may be waiting for it.
    pub fn ack_round(&mut self, now: Instant, idle: bool) {
        let Some(rx) = &mut self.rx_acks else {
            return;
        };
        rx.shared.notified.store(false, Ordering::Release);
        let safe = rx.shared.safe();
        if safe <= rx.sent || self.close_sent.is_some() {
            rx.due = None;
            return;
        }
        // At once when idle only if every message received is safe: the sender may then be
        // waiting for exactly this. While some are still held (the application acknowledges
        // them one by one, e.g. syslog-ng as its destination writes), an acknowledgement per
        // call would cost a pong and a wake-up on both sides every few messages (docs/bench.md,
        // "Acknowledgements on the syslog-ng path"); those wait for the batch or the delay.
        if (idle && safe == rx.received)
            || safe - rx.sent >= ACK_EVERY
            || now >= rx.sent_at + ACK_DELAY
        {
            rx.sent = safe;
            rx.sent_at = now;
            rx.due = None;
            let mask = self.mask();
            self.push_ack(frame::encode(opcode::PONG, &wire::encode(safe), mask));
        } else {
            if rx.due.is_none() {
                rx.due = Some(rx.sent_at + ACK_DELAY);
            }
            // The timer looks within ACK_DELAY: an application acknowledging message by
            // message (syslog-ng, as its destination writes) need not wake this thread for each
            // call meanwhile (docs/bench.md, "Acknowledgements on the syslog-ng path"). Set
            // after the load of `safe` above: what grew in between is seen by the timer.
            if rx.hold_notified {
                rx.shared.notified.store(true, Ordering::Release);
            }
        }
    }

    /// Queues an acknowledgement pong, replacing one that waits unwritten (the newer covers
    /// it), so at most one waits whatever the peer reads.
    fn push_ack(&mut self, data: Bytes) {
        let first = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        let waiting = self
            .out
            .iter_mut()
            .skip(first)
            .take_while(|c| c.payload.is_none())
            .find(|c| c.off == 0 && is_ack_frame(&c.data));
        match waiting {
            Some(c) => {
                self.out_bytes = self.out_bytes - c.data.len() + data.len();
                c.data = data;
            }
            None => self.push_control(data),
        }
    }

    /// Client: the server acknowledged every message of this connection up to `n`. The
    /// released messages advance the acknowledged prefix (`messages_acked_seq`); an `n` beyond
    /// what was written, or below an earlier one, closes the connection with 1002.
    pub(super) fn on_ack(&mut self, n: Result<u64, &'static str>, shared: &Shared) {
        let Some(w) = &mut self.tx_acks else {
            return;
        };
        let mut track = shared.acked_seq.lock().unwrap_or_else(|e| e.into_inner());
        match n.and_then(|n| w.ack(n, |c: Chunk| track.written(c.seq))) {
            Ok(()) => {
                shared
                    .stats
                    .messages_acked_seq
                    .store(track.upto(), Ordering::Release);
            }
            Err(reason) => {
                drop(track);
                ws_log!(
                    Level::Warn,
                    "connection {}: {reason}: closing with 1002",
                    self.id
                );
                self.fail(Violation { code: 1002, reason });
            }
        }
    }

    /// Client: a data message was written completely; with acknowledgements it is kept until
    /// the server acknowledges it. On a connection whose server did not accept them (the
    /// option is on, the 101 said nothing), writing is all the acknowledgement there will be:
    /// the message counts as acknowledged now, so that an application waiting for `on_acked`
    /// (the syslog-ng destination does) is not stalled by a server that does not speak them.
    pub(super) fn keep_written(&mut self, c: Chunk, shared: &Shared) {
        if self.tx_acks.is_none() && shared.config.acks != AckMode::Off {
            let mut track = shared.acked_seq.lock().unwrap_or_else(|e| e.into_inner());
            track.written(c.seq);
            shared
                .stats
                .messages_acked_seq
                .store(track.upto(), Ordering::Release);
            return;
        }
        if let Some(w) = &mut self.tx_acks {
            // Kept as it will be resent: uncompressed (another connection, another compressor).
            let c = c.rewound();
            let n = c.data.len();
            w.written(c, n);
        }
    }

    /// Client: whether the window is full (nothing more is taken from the queue).
    pub(super) fn window_full(&self) -> bool {
        self.tx_acks
            .as_ref()
            .is_some_and(|w| w.full(self.out.len(), self.out_bytes))
    }

    /// Client: whether written messages wait for their acknowledgement.
    pub fn has_unacked(&self) -> bool {
        self.tx_acks.as_ref().is_some_and(|w| !w.is_empty())
    }

    /// Brings the context's total of bytes kept for acknowledgement (`Shared::kept`, part of
    /// the memory budget and of `buffered_bytes`) up to date with this window.
    pub(super) fn account_kept(&mut self, shared: &Shared) {
        let Some(w) = &mut self.tx_acks else {
            return;
        };
        let (before, now) = w.publish();
        if now >= before {
            shared.kept.fetch_add(now - before, Ordering::Relaxed);
        } else {
            shared.kept.fetch_sub(before - now, Ordering::Relaxed);
        }
    }

    /// Client, as the connection ends: the written but unacknowledged messages, in order,
    /// rewound and marked to be counted as resent; they are queued again (`messages_queued`).
    pub fn take_unacked(&mut self, shared: &Shared) -> Vec<Chunk> {
        let Some(w) = &mut self.tx_acks else {
            return Vec::new();
        };
        let back: Vec<Chunk> = w
            .take()
            .into_iter()
            .map(|c| Chunk {
                resend: true,
                ..c.rewound()
            })
            .collect();
        // Carried over from here on, like the queue: no longer the window's.
        self.account_kept(shared);
        shared
            .stats
            .messages_queued
            .fetch_add(back.len() as u64, Ordering::SeqCst);
        back
    }
}

/// Whether a frame is an acknowledgement pong (ours are never masked: the server sends them).
pub(super) fn is_ack_frame(data: &[u8]) -> bool {
    data.first() == Some(&(0x80 | opcode::PONG)) && data.get(2..6) == Some(b"ack ")
}
