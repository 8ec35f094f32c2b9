//! Bytes out: the write batch (control frames ahead of data, at most `BATCH_FRAMES` frames and
//! `BATCH_BYTES` bytes taken from the queue at a time), the hand-off to the broadcast log's cursor
//! in the same writev, the application's close once everything queued is out, and what a client
//! carries over to its next connection.

use std::io::{self, IoSlice};
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::acking::is_ack_frame;
use super::{Chunk, Closing, Conn, End, Phase, BATCH_BYTES, BATCH_FRAMES, IOV};
use crate::engine::broadcast::LogView;
use crate::engine::sent_seq::SentSeq;
use crate::engine::shared::Shared;
use crate::engine::stream::Transport;

impl<S: Transport> Conn<S> {
    /// Puts a control frame (or HTTP bytes) ahead of queued data, after any partly written frame
    /// and after control frames already waiting. Control frames waiting are few (at most one
    /// ping and one pong, thanks to `push_control_coalesced`, a close, an HTTP head), so the
    /// walk is O(1).
    pub fn push_control(&mut self, data: Bytes) {
        let mut i = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        while i < self.out.len() && self.out[i].payload.is_none() {
            i += 1;
        }
        self.out_bytes += data.len();
        self.out.insert(
            i,
            Chunk {
                data,
                off: 0,
                payload: None,
                seq: 0,
                resend: false,
                plain: None,
            },
        );
    }

    /// Queues a ping or pong, replacing one of the same opcode that waits unwritten: RFC 6455
    /// 5.5.3 lets an endpoint answer only the most recent ping, so a peer that floods pings and
    /// reads nothing costs one pending pong, not a queue of them.
    pub(super) fn push_control_coalesced(&mut self, data: Bytes) {
        let first = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        let same = self
            .out
            .iter_mut()
            .skip(first)
            .take_while(|c| c.payload.is_none())
            .find(|c| c.off == 0 && c.data.first() == data.first() && !is_ack_frame(&c.data));
        match same {
            Some(c) => {
                self.out_bytes = self.out_bytes - c.data.len() + data.len();
                c.data = data;
            }
            None => self.push_control(data),
        }
    }

    /// Moves queued messages into the batch; answers whether nothing more of the queue may go
    /// before the broadcasts still to write (the queue is empty, or its next message waits for
    /// them).
    pub(super) fn refill(&mut self, shared: &Shared) -> bool {
        while self.out.len() < BATCH_FRAMES && self.out_bytes < BATCH_BYTES {
            if self.window_full() {
                // Acknowledgements: the window is the backpressure; the queue backs up.
                return true;
            }
            let Some(m) = self.stash.take().or_else(|| self.queue.pop()) else {
                return true;
            };
            if self.bcast.is_some_and(|cur| m.after > cur) {
                self.stash = Some(m);
                return true;
            }
            let (data, plain) = if self.compressed() {
                self.deflate_frame(m.frame, shared)
            } else {
                (m.frame, None)
            };
            self.out_bytes += data.len();
            self.out.push_back(Chunk {
                data,
                off: 0,
                payload: Some(m.payload_len),
                seq: m.seq,
                resend: false,
                plain,
            });
        }
        false
    }

    pub(super) fn may_send_data(&self) -> bool {
        self.phase == Phase::Open && self.close_sent.is_none() && self.close_received.is_none()
    }

    /// Whether every message accepted for this connection is in the batch or written (and,
    /// with acknowledgements, acknowledged: a requested close waits for them too, within its
    /// deadline, so a drain does not leave them to be resent).
    pub(super) fn nothing_waiting(&self, shared: &Shared) -> bool {
        self.queue.is_empty()
            && !self.has_unacked()
            && self.stash.is_none()
            && !matches!(self.bcast, Some(cur) if cur < shared.bcast.head())
    }

    /// Writes the batch, refilling it from the queue and the broadcast log, until the socket is
    /// full or all is out.
    ///
    /// Client: each numbered message written completely (over TLS: its whole batch flushed)
    /// advances the context's written prefix (`sent_seq.rs`, locked once per round), published
    /// as `messages_sent_seq`.
    pub fn write(&mut self, shared: &Shared, log: &LogView) -> Result<(), End> {
        let mut sent = 0u64;
        let mut bytes = 0u64;
        let mut track =
            (!self.is_server).then(|| shared.sent_seq.lock().unwrap_or_else(|e| e.into_inner()));
        let r = self.write_inner(shared, log, &mut sent, &mut bytes, track.as_deref_mut());
        // The window grew or an acknowledgement shrank it: its bytes are in the budget.
        self.account_kept(shared);
        if sent > 0 {
            let st = &shared.stats;
            if let Some(t) = &track {
                st.messages_sent_seq.store(t.upto(), Ordering::Release);
            }
            st.messages_sent.fetch_add(sent, Ordering::Relaxed);
            st.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
            st.messages_queued.fetch_sub(sent, Ordering::SeqCst);
            shared.notify_flushed();
        }
        r
    }

    pub(super) fn write_inner(
        &mut self,
        shared: &Shared,
        log: &LogView,
        sent: &mut u64,
        bytes: &mut u64,
        mut track: Option<&mut SentSeq>,
    ) -> Result<(), End> {
        loop {
            if !self.writable {
                return Ok(());
            }
            // Broadcasts from the cursor up to `log_to` follow the batch in this write.
            let mut log_to = None;
            if self.may_send_data() {
                if self.refill(shared) {
                    if let Some(cur) = self.bcast {
                        let to = self
                            .stash
                            .as_ref()
                            .map_or(log.head(), |m| m.after.min(log.head()));
                        log_to = (to > cur).then_some((cur, to));
                    }
                }
                if self.out.is_empty() && log_to.is_none() && self.nothing_waiting(shared) {
                    self.send_requested_close();
                }
            }
            if self.out.is_empty() && log_to.is_none() {
                if self.closing == Closing::FinAfterWrite && self.phase != Phase::Linger {
                    self.linger();
                }
                return Ok(());
            }
            let mut iov = [IoSlice::new(&[]); IOV];
            let mut n = 0;
            for c in self.out.iter().take(IOV) {
                iov[n] = IoSlice::new(&c.data[c.off..]);
                n += 1;
            }
            if let Some((cur, to)) = log_to {
                if n < IOV {
                    n += log.slices_lane(cur, to, self.bcast_lane(), &mut iov[n..]);
                }
            }
            if n == 0 {
                // The log no longer holds the cursor's messages: the slow policy deals with
                // that at the next sync.
                return Ok(());
            }
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => {
                    return Err(End::Io(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "socket accepted no bytes",
                    )))
                }
                Ok(mut w) => {
                    // Client over TLS: bytes OpenSSL still holds (its batch is not all in the
                    // kernel) would be lost with the connection, so the messages among them
                    // stay the connection's (`unflushed`, carried over at a drop) and count as
                    // written only once the batch is out.
                    let held = !self.is_server && self.stream.write_pending();
                    if !held {
                        for c in std::mem::take(&mut self.unflushed) {
                            *sent += 1;
                            *bytes += c.payload.unwrap_or(0) as u64;
                            if let Some(t) = track.as_deref_mut() {
                                t.written(c.seq);
                            }
                            self.written_data(c, shared);
                        }
                    }
                    while w > 0 {
                        let Some(c) = self.out.front_mut() else { break };
                        let rem = c.data.len() - c.off;
                        if w >= rem {
                            w -= rem;
                            self.out_bytes = self.out_bytes.saturating_sub(rem);
                            if let Some(p) = c.payload {
                                if held {
                                    self.unflushed.extend(self.out.pop_front());
                                    continue;
                                }
                                *sent += 1;
                                *bytes += p as u64;
                                if let Some(t) = track.as_deref_mut() {
                                    t.written(c.seq);
                                }
                                if let Some(c) = self.out.pop_front() {
                                    self.written_data(c, shared);
                                }
                                continue;
                            }
                            self.out.pop_front();
                        } else {
                            c.off += w;
                            self.out_bytes = self.out_bytes.saturating_sub(w);
                            w = 0;
                        }
                    }
                    if let (true, Some((cur, _))) = (w > 0, log_to) {
                        let a = log.advance_lane(cur, w, self.bcast_lane());
                        *sent += a.messages;
                        *bytes += a.payload_bytes;
                        self.bcast = Some(a.cursor);
                        if let Some(p) = a.partial {
                            self.out_bytes += p.frame.len() - p.written;
                            self.out.push_front(Chunk {
                                data: p.frame,
                                off: p.written,
                                payload: Some(p.payload),
                                seq: 0,
                                resend: false,
                                plain: None,
                            });
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(End::Io(e)),
            }
        }
    }

    /// A client's data message is written completely: a resend is counted, and with
    /// acknowledgements it is kept until acknowledged.
    fn written_data(&mut self, c: Chunk, shared: &Shared) {
        if self.is_server {
            return;
        }
        if c.resend {
            shared.stats.messages_resent.fetch_add(1, Ordering::Relaxed);
        }
        self.keep_written(c);
    }

    /// Data chunks not yet (fully) written, in order, rewound to their start: what an earlier
    /// connection handed over, what OpenSSL held unflushed, then the batch.
    pub fn take_unsent_data(&mut self) -> Vec<Chunk> {
        let carried = self.carry.drain(..).chain(self.unflushed.drain(..));
        let batch = self.out.drain(..).filter(|c| c.payload.is_some());
        let withheld = self.withheld.drain(..);
        let stashed = self.stash.take().map(|m| Chunk {
            data: m.frame,
            off: 0,
            payload: Some(m.payload_len),
            seq: m.seq,
            resend: false,
            plain: None,
        });
        carried
            .chain(batch)
            .chain(withheld)
            .chain(stashed)
            .map(Chunk::rewound)
            .collect()
    }

    /// Whether any accepted message is still held by this connection.
    pub fn has_unsent_data(&self) -> bool {
        !self.carry.is_empty()
            || !self.unflushed.is_empty()
            || !self.withheld.is_empty()
            || self.stash.is_some()
            || self.out.iter().any(|c| c.payload.is_some())
    }
}
