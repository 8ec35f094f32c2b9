//! Bytes in: reading within the per-wake-up budgets, handing them to the handshake or the frame
//! parser, delivering messages, and answering pings (with the control-frame fast path that
//! writes pongs ahead of the batch).

use std::io::{self, IoSlice};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Conn, End, Phase, IDLE_INBUF, READ_BUDGET, READ_BYTES_BUDGET};
use crate::engine::acks::wire;
use crate::engine::frame::{self, opcode};
use crate::engine::parser::{self, reserve_stepped, Incoming, Violation};
use crate::engine::shared::Shared;
use crate::engine::sink::Sink;
use crate::engine::stream::Transport;

impl<S: Transport> Conn<S> {
    /// Reads and handles what the socket has, within a budget.
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<(), End> {
        let r = self.read_inner(scratch, sink, shared);
        self.track_message(shared);
        // Server with acknowledgements: what became safe in this read; at once if nothing more
        // waits to be read (the sender may be waiting for it).
        self.ack_round(Instant::now(), !self.read_hint || self.rx_paused);
        r
    }

    pub(super) fn read_inner(
        &mut self,
        scratch: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<(), End> {
        self.more_to_read = false;
        self.held_back = false;
        // What a large frame may allocate at once for its payload: what keeps everything held
        // within half the budget, so frames that announce much and send little never hold more
        // than that between them (beyond it a buffer grows only with bytes that arrived, as the
        // read buffer does, and the budget's enforcement sees the rest).
        let held = shared.held.load(Ordering::Relaxed);
        self.parser
            .set_eager_room((shared.input_budget() / 2).saturating_sub(held));
        let mut read_bytes = 0;
        for _ in 0..READ_BUDGET {
            if read_bytes >= READ_BYTES_BUDGET {
                break;
            }
            if self.rx_paused || !self.read_hint {
                return Ok(());
            }
            if sink.backlog_full() {
                self.held_back = true;
                return Ok(());
            }
            if !self.writable && self.pong_waiting() {
                // The peer does not take the answers to its own pings: it is read no more until
                // it does, like any slow peer, so a ping flood costs it its own socket buffer and
                // not our time. Keepalive ends it. A writable event resumes reading (read_hint
                // is still set). Only pongs stop reading: a peer busy writing a large message
                // while ours wait (our ping, our close) is still read, so neither side blocks
                // the other.
                return Ok(());
            }
            // A large frame in progress: its payload is read straight into its message buffer.
            let direct = match self.parser.direct_wanted() {
                0 => 0,
                want if self.violation.is_none() && self.close_received.is_none() => {
                    want.min(READ_BYTES_BUDGET - read_bytes)
                }
                _ => 0,
            };
            let r = if direct > 0 {
                let buf = self.parser.direct_buffer(direct);
                self.stream.read_append(buf, direct)
            } else {
                let room = (READ_BYTES_BUDGET - read_bytes).min(scratch.len());
                self.stream.read(&mut scratch[..room])
            };
            let n = match r {
                Ok(0) => return Err(End::Eof),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.read_hint = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(End::Io(e)),
            };
            read_bytes += n;
            if direct > 0 {
                let r = self.parser.direct_received(n);
                self.direct_result(r, sink, shared)?;
                if self.account(shared) > shared.input_budget() {
                    break;
                }
                continue;
            }
            let mut start = 0;
            if !self.inbuf.is_empty() && self.phase == Phase::Open {
                // Complete the frame held back from the last read with just the bytes it lacks,
                // so the rest of this read is parsed where it lies instead of being copied.
                while !self.inbuf.is_empty() && start < n && !self.rx_paused {
                    let want = match parser::frame_len(&self.inbuf) {
                        Some(total) => total.saturating_sub(self.inbuf.len()).max(1),
                        None => frame::MAX_HEADER.saturating_sub(self.inbuf.len()).max(1),
                    };
                    let take = want.min(n - start);
                    reserve_stepped(&mut self.inbuf, take);
                    self.inbuf.extend_from_slice(&scratch[start..start + take]);
                    start += take;
                    self.consume_inbuf(sink, shared)?;
                }
            }
            if start < n && self.parser.direct_wanted() > 0 {
                // The header just completed began a large frame: the rest of its payload in
                // this read goes to its message buffer.
                start += self.direct_extend(&scratch[start..n], sink, shared)?;
            }
            if start < n {
                if self.inbuf.is_empty() {
                    let used = start + self.consume(&mut scratch[start..n], sink, shared)?;
                    if used < n {
                        reserve_stepped(&mut self.inbuf, n - used);
                        self.inbuf.extend_from_slice(&scratch[used..n]);
                    }
                } else {
                    reserve_stepped(&mut self.inbuf, n - start);
                    self.inbuf.extend_from_slice(&scratch[start..n]);
                    self.consume_inbuf(sink, shared)?;
                }
            }
            if self.account(shared) > shared.input_budget() {
                // Over the budget: the loop closes the largest holder before anyone reads on
                // (this connection goes on in the next round if it is not the one).
                break;
            }
        }
        self.more_to_read = self.read_hint && !self.rx_paused;
        Ok(())
    }

    /// Appends the bytes of a large frame that were read into the read buffer to its message
    /// buffer; answers how many belonged to it.
    fn direct_extend(
        &mut self,
        bytes: &[u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        let r = self.parser.direct_extend(bytes);
        let used = r.as_ref().map_or(bytes.len(), |&(n, _)| n);
        self.direct_result(r.map(|(_, done)| done), sink, shared)?;
        Ok(used)
    }

    /// After bytes of a large frame arrived: closes on a violation, delivers a complete message.
    fn direct_result(
        &mut self,
        r: Result<bool, Violation>,
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<(), End> {
        match r {
            Err(v) => self.fail(v),
            Ok(true) => {
                self.frames(&mut [], sink, shared)?;
            }
            Ok(false) => {}
        }
        Ok(())
    }

    /// Handles bytes held back earlier (after a pause, or a frame that arrived in pieces).
    pub fn consume_inbuf(&mut self, sink: &mut Sink, shared: &Shared) -> Result<(), End> {
        if self.inbuf.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.inbuf);
        let r = self.consume(&mut buf, sink, shared);
        if let Ok(used) = r {
            buf.drain(..used);
        }
        if buf.is_empty() && buf.capacity() > IDLE_INBUF {
            buf = Vec::new();
        }
        self.inbuf = buf;
        r.map(|_| ())
    }

    /// Handles bytes according to the phase; answers how many were used (the rest waits for more).
    pub(super) fn consume(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        match self.phase {
            Phase::ServerHandshake => self.server_handshake(buf, sink, shared),
            Phase::ClientHandshake => self.client_handshake(buf, sink, shared),
            Phase::Open => self.frames(buf, sink, shared),
            Phase::Connecting | Phase::ProxyConnect | Phase::HttpReply | Phase::Linger => {
                Ok(buf.len())
            }
        }
    }

    pub(super) fn frames(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        let mut pos = 0;
        // A message read straight into its buffer is handed out by `next` with nothing in `buf`.
        while (pos < buf.len() || self.parser.direct_done()) && !self.rx_paused {
            if self.close_received.is_some()
                || self.violation.is_some()
                || self.phase != Phase::Open
            {
                return Ok(buf.len());
            }
            enum Next {
                Go,
                Pause,
                Pong(Vec<u8>),
                Ack(Result<u64, &'static str>),
                Close(u16, String),
            }
            let next = match self.parser.next(&mut buf[pos..]) {
                Err(v) => {
                    self.fail(v);
                    return Ok(buf.len());
                }
                Ok((0, None)) => break,
                Ok((used, ev)) => {
                    pos += used;
                    match ev {
                        None => Next::Go,
                        Some(Incoming::Pong(p)) => {
                            self.pong_deadline = None;
                            // Client with acknowledgements: `ack <N>` (docs/acks.md).
                            match self.tx_acks.is_some().then(|| wire::parse(p)).flatten() {
                                Some(n) => Next::Ack(n),
                                None => Next::Go,
                            }
                        }
                        Some(Incoming::Ping(p)) => Next::Pong(p.to_vec()),
                        Some(Incoming::Close(code, reason)) => {
                            Next::Close(code, reason.to_string())
                        }
                        Some(Incoming::Message(kind, data)) => {
                            // The message timeout bounds one message: a complete one restarts
                            // it (`track_message` sets it again if the read ends mid-message).
                            self.message_deadline = None;
                            shared
                                .stats
                                .messages_received
                                .fetch_add(1, Ordering::Relaxed);
                            shared
                                .stats
                                .bytes_received
                                .fetch_add(data.len() as u64, Ordering::Relaxed);
                            let ack = self.rx_acks.as_mut().map(|rx| rx.next_number());
                            if sink.receive(self.id, data, kind, ack) {
                                Next::Pause
                            } else {
                                Next::Go
                            }
                        }
                    }
                }
            };
            match next {
                Next::Go => {}
                Next::Pause => self.rx_paused = true,
                Next::Pong(p) => self.answer_ping(&p)?,
                Next::Ack(n) => {
                    self.on_ack(n, shared);
                    if self.violation.is_some() {
                        return Ok(buf.len());
                    }
                }
                Next::Close(code, reason) => {
                    self.close_received = Some((code, reason));
                    if self.close_sent.is_some() {
                        return Err(End::Done);
                    }
                    let payload = if code == 1005 {
                        Vec::new()
                    } else {
                        frame::close_payload(code, "")
                    };
                    self.send_close_now(if code == 1005 { 1000 } else { code }, &payload);
                    return Ok(buf.len());
                }
            }
        }
        // A reassembled message is handled: its buffer is not kept (nor counted) while idle.
        self.parser.release_done();
        Ok(pos)
    }

    /// Answers a ping. A pong still waiting is written first while the socket takes it, so a
    /// peer that reads gets a pong for every ping; once the socket is full (the peer does not
    /// read), the waiting pong is replaced by this one: at most one pong waits (RFC 6455 5.5.3
    /// allows answering only the most recent ping), and reading stops until the peer reads.
    pub(super) fn answer_ping(&mut self, payload: &[u8]) -> Result<(), End> {
        if self.close_sent.is_some() {
            return Ok(());
        }
        if self.writable && self.pong_waiting() {
            self.flush_control()?;
        }
        let mask = self.mask();
        self.push_control_coalesced(frame::encode(opcode::PONG, payload, mask));
        Ok(())
    }

    /// Whether an unwritten pong is among the control frames at the front of the batch (a few
    /// at most: O(1)).
    pub(super) fn pong_waiting(&self) -> bool {
        self.out
            .iter()
            .take_while(|c| c.payload.is_none() || c.off > 0)
            .any(|c| c.off == 0 && c.data.first() == Some(&(0x80 | opcode::PONG)))
    }

    /// Writes the control frames at the front of the batch now, as far as the socket takes
    /// them (nothing when a data frame is partly written, or a TLS batch that may hold data is
    /// pending: the control frames wait for the regular write and may be coalesced).
    pub(super) fn flush_control(&mut self) -> Result<(), End> {
        if self.stream.write_pending() {
            return Ok(());
        }
        while self.writable {
            let mut iov = [IoSlice::new(&[]); 8];
            let mut n = 0;
            for c in self.out.iter().take_while(|c| c.payload.is_none()).take(8) {
                iov[n] = IoSlice::new(&c.data[c.off..]);
                n += 1;
            }
            if n == 0 {
                return Ok(());
            }
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => return Err(End::write_zero()),
                Ok(mut w) => {
                    while w > 0 {
                        let Some(c) = self.out.front_mut() else { break };
                        let take = w.min(c.data.len() - c.off);
                        c.off += take;
                        w -= take;
                        self.out_bytes = self.out_bytes.saturating_sub(take);
                        if c.off == c.data.len() {
                            self.out.pop_front();
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(End::Io(e)),
            }
        }
        Ok(())
    }
}
