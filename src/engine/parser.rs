//! Incoming frames: parses and unmasks frames in place, reassembles fragmented messages,
//! validates UTF-8 as it arrives (so a bad text message is refused at its first bad fragment)
//! and turns protocol violations into the close code RFC 6455 asks for.

use super::deflate::codec::{InflateError, INFLATER_BYTES};
use super::deflate::Inflater;
use super::event::MsgKind;
use super::frame::{apply_mask, opcode, valid_close_code};
use super::utf8;

/// What one parsed frame means to the connection.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A complete data message (borrowed from the read buffer or the reassembly buffer).
    Message(MsgKind, &'a [u8]),
    /// A ping with its payload, to be answered with a pong.
    Ping(&'a [u8]),
    /// A pong with its payload.
    Pong(&'a [u8]),
    /// A close frame with its code (1005 when it had none) and reason.
    Close(u16, &'a str),
}

/// A protocol violation: the connection must be closed with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Close code to send (1002 protocol error, 1007 bad data, 1009 too big).
    pub code: u16,
    /// Reason, for the close frame and on_error.
    pub reason: &'static str,
}

fn violation(code: u16, reason: &'static str) -> Violation {
    Violation { code, reason }
}

/// Reassembly state of one connection's incoming direction.
#[derive(Debug)]
pub struct Parser {
    /// Frames from clients must be masked, frames from servers must not be.
    expect_masked: bool,
    max_message: usize,
    fragments: Option<(MsgKind, Vec<u8>)>,
    /// Length of the prefix of a fragmented text message already known to be valid UTF-8.
    utf8_valid: usize,
    /// The last reassembled message, kept so it can be lent out; freed by the next frame.
    done: Vec<u8>,
    /// permessage-deflate was agreed: how compressed messages are inflated.
    inflate: Option<Inflate>,
    /// The message being received is compressed (RSV1 on its first frame).
    compressed: bool,
    /// A large data frame whose payload is being read straight into `fragments` (see `direct`).
    direct: Option<Direct>,
    /// The direct frame completed a message: `next` hands it out first.
    direct_done: bool,
    /// Bytes a direct frame may take at once for its whole payload (the connection sets it from
    /// the memory budget's free room); beyond it the buffer grows as bytes arrive.
    eager_room: usize,
}

/// Data frames at least this long whose payload is not all in the read buffer are read straight
/// into their message buffer instead of being collected in the read buffer and copied out.
pub const DIRECT_MIN: usize = 16 * 1024;

/// Room a direct frame's buffer gets at least when it must grow (see `Parser::direct_buffer`).
const DIRECT_ROOM: usize = 4 * 1024;

/// A data frame being read straight into the message buffer (`Parser::fragments`).
#[derive(Debug)]
struct Direct {
    key: Option<[u8; 4]>,
    fin: bool,
    /// Payload bytes of this frame received so far (the mask's offset).
    got: usize,
    /// Payload bytes of this frame still to come.
    left: usize,
}

/// The inflating side of permessage-deflate.
#[derive(Debug)]
struct Inflate {
    /// The peer keeps its compression context between messages, so the window is kept too.
    takeover: bool,
    /// Made at the first compressed message; without takeover dropped after each one, so a
    /// connection that sends nothing compressed holds nothing for it.
    inflater: Option<Inflater>,
}

/// Largest compressed frame accepted for a message of at most `max` inflated bytes: incompressible
/// data grows by a few bytes per 16 KiB block when deflated.
fn compressed_limit(max: usize) -> u64 {
    max as u64 + max as u64 / 8 + 1024
}

/// Largest growth of a reassembly or read buffer beyond what it needs: doubling stops here, so
/// the memory budget is never overshot by more than this per growth.
pub const GROWTH_STEP: usize = 1 << 20;

/// Makes room in `buf` for `more` bytes: doubling while small, in steps of at most
/// `GROWTH_STEP` beyond the need once large (a doubled 8 MiB buffer would hold 8 MiB that no
/// byte needs yet, and count against the budget).
pub fn reserve_stepped(buf: &mut Vec<u8>, more: usize) {
    let need = buf.len() + more;
    if need > buf.capacity() {
        let extra = buf.len().clamp(more, GROWTH_STEP.max(more));
        buf.reserve_exact(extra);
    }
}

/// Total length (header included) of the frame starting `buf`, once its header is complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let b1 = *buf.get(1)?;
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    let (len, header) = match b1 & 0x7f {
        126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as u64, 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        l => (l as u64, 2),
    };
    usize::try_from(len).ok()?.checked_add(header + mask)
}

impl Parser {
    /// A parser for a server (`expect_masked`) or client connection.
    pub fn new(expect_masked: bool, max_message: usize) -> Self {
        Parser {
            expect_masked,
            max_message,
            fragments: None,
            utf8_valid: 0,
            done: Vec::new(),
            inflate: None,
            compressed: false,
            direct: None,
            direct_done: false,
            eager_room: 0,
        }
    }

    /// How many bytes a frame read straight into its message may allocate at once for its whole
    /// payload (the free room the memory budget leaves; see `Conn::read`). A frame announcing
    /// more than this gets its buffer grown as its bytes arrive, as the read buffer would.
    pub fn set_eager_room(&mut self, room: usize) {
        self.eager_room = room;
    }

    /// Whether a message read straight into its buffer is complete and waits to be handed out
    /// (by `next`, whatever buffer it is given).
    pub fn direct_done(&self) -> bool {
        self.direct_done
    }

    /// Payload bytes still to come for a frame being read straight into its message (0: none):
    /// the connection reads them with `direct_buffer` and `direct_received`.
    pub fn direct_wanted(&self) -> usize {
        self.direct.as_ref().map_or(0, |d| d.left)
    }

    /// The message buffer of the direct frame, with room for at least one more byte and at most
    /// `max.min(wanted)` more: the connection appends what it reads to it (as much as its spare
    /// capacity takes), then calls `direct_received`. A buffer not allocated at its final size
    /// at most doubles what arrived (plus `DIRECT_ROOM`), so a peer that trickles holds about
    /// what it sent, as in the read buffer.
    pub fn direct_buffer(&mut self, max: usize) -> &mut Vec<u8> {
        let want = max.min(self.direct_wanted());
        let (_, buf) = self
            .fragments
            .as_mut()
            .expect("a direct frame reads into its message");
        if buf.capacity() == buf.len() {
            reserve_stepped(buf, want.min(buf.len().max(DIRECT_ROOM)));
        }
        buf
    }

    /// Bytes of the direct frame that were read into the read buffer (with the end of a frame
    /// header): appends what belongs to the frame. Answers how many bytes it took and whether a
    /// message is complete, as `direct_received`.
    pub fn direct_extend(&mut self, bytes: &[u8]) -> Result<(usize, bool), Violation> {
        let n = bytes.len().min(self.direct_wanted());
        let (_, buf) = self
            .fragments
            .as_mut()
            .expect("a direct frame reads into its message");
        reserve_stepped(buf, n);
        buf.extend_from_slice(&bytes[..n]);
        self.direct_received(n).map(|done| (n, done))
    }

    /// `n` bytes were appended to the direct frame's buffer: unmasks them, checks UTF-8 so far,
    /// and answers whether a message is complete (then `next` hands it out first). A violation
    /// ends the direct frame (the connection is being closed).
    pub fn direct_received(&mut self, n: usize) -> Result<bool, Violation> {
        let d = self.direct.as_mut().expect("a direct frame is being read");
        let (kind, buf) = self
            .fragments
            .as_mut()
            .expect("a direct frame reads into its message");
        let start = buf.len() - n;
        if let Some(k) = d.key {
            apply_mask(&mut buf[start..], k, d.got);
        }
        d.got += n;
        d.left -= n;
        let (done, fin) = (d.left == 0, d.fin);
        let text = *kind == MsgKind::Text;
        if done {
            self.direct = None;
        }
        if text {
            if let Err(v) = self.check_text(done && fin) {
                self.discard();
                return Err(v);
            }
        }
        self.direct_done = done && fin;
        Ok(self.direct_done)
    }

    /// Checks the text message in `fragments` from where the last check stopped; `last`: it is
    /// complete, so it must not end inside a character.
    fn check_text(&mut self, last: bool) -> Result<(), Violation> {
        let (_, buf) = self
            .fragments
            .as_ref()
            .expect("a message is being reassembled");
        match utf8::valid_prefix(&buf[self.utf8_valid..]) {
            Some(n) => self.utf8_valid += n,
            None => return Err(violation(1007, "text message is not valid UTF-8")),
        }
        if last && self.utf8_valid != buf.len() {
            return Err(violation(
                1007,
                "text message ends inside a UTF-8 character",
            ));
        }
        Ok(())
    }

    /// Starts reading the data frame whose header `buf` holds (payload from `pos`, `len` bytes,
    /// more than `buf` has) straight into its message buffer, beginning with the payload bytes
    /// `buf` already has. The frame's header is valid and it is not compressed.
    fn begin_direct(
        &mut self,
        op: u8,
        fin: bool,
        key: Option<[u8; 4]>,
        buf: &[u8],
        pos: usize,
        len: usize,
    ) -> Result<(), Violation> {
        let have = &buf[pos..];
        // The whole payload at once when the budget has room for it (one allocation, no growth);
        // otherwise what is here, growing as bytes arrive (`direct_buffer`).
        let cap = if len <= self.eager_room {
            self.eager_room -= len;
            len
        } else {
            have.len()
        };
        if op == opcode::CONTINUATION {
            let (_, b) = self.fragments.as_mut().expect("checked by the caller");
            if cap == len {
                b.reserve_exact(len);
            } else {
                reserve_stepped(b, cap);
            }
        } else {
            let kind = if op == opcode::TEXT {
                MsgKind::Text
            } else {
                MsgKind::Binary
            };
            self.compressed = false;
            self.fragments = Some((kind, Vec::with_capacity(cap)));
            self.utf8_valid = 0;
        }
        let (_, b) = self.fragments.as_mut().expect("set above");
        b.extend_from_slice(have);
        let n = have.len();
        self.direct = Some(Direct {
            key,
            fin,
            got: 0,
            left: len,
        });
        self.direct_received(n).map(|_| ())
    }

    /// permessage-deflate was agreed: frames with RSV1 carry compressed messages; `takeover`
    /// tells whether the peer keeps its context from one message to the next.
    pub fn enable_inflate(&mut self, takeover: bool) {
        self.inflate = Some(Inflate {
            takeover,
            inflater: None,
        });
    }

    /// Bytes held for the message being reassembled and the last one lent out (capacity, what
    /// the allocator really holds).
    pub fn buffered(&self) -> usize {
        let inflater = self
            .inflate
            .as_ref()
            .filter(|i| i.inflater.is_some())
            .map_or(0, |_| INFLATER_BYTES);
        self.fragments.as_ref().map_or(0, |(_, v)| v.capacity()) + self.done.capacity() + inflater
    }

    /// Whether a message is incomplete: a fragmented one, or a frame being read straight into
    /// its message buffer.
    pub fn in_message(&self) -> bool {
        self.fragments.is_some()
    }

    /// Frees the last reassembled message once it has been handled (an idle connection then
    /// holds nothing for it).
    pub fn release_done(&mut self) {
        if self.done.capacity() > 0 {
            self.done = Vec::new();
        }
    }

    /// Frees everything held (the connection is being closed and reads no more messages).
    pub fn discard(&mut self) {
        self.fragments = None;
        self.direct = None;
        self.direct_done = false;
        self.done = Vec::new();
        if let Some(i) = self.inflate.as_mut() {
            i.inflater = None;
        }
    }

    /// Parses the first frame in `buf`. Answers how many bytes it used (0 when the frame is not
    /// complete yet) and what the frame means (None for a fragment that completes nothing).
    pub fn next<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> Result<(usize, Option<Incoming<'a>>), Violation> {
        if !self.done.is_empty() {
            self.done = Vec::new();
        }
        if self.direct_done {
            // A message read straight into its buffer is complete (`direct_received`).
            self.direct_done = false;
            let (kind, body) = self.fragments.take().expect("a direct message is complete");
            self.done = body;
            return Ok((0, Some(Incoming::Message(kind, self.done.as_slice()))));
        }
        debug_assert!(self.direct.is_none(), "a direct frame's bytes go to it");
        if let Some((pos, end, kind, key)) = self.whole_small(buf) {
            let payload = &mut buf[pos..end];
            if let Some(k) = key {
                apply_mask(payload, k, 0);
            }
            if kind == MsgKind::Text && !utf8::is_valid(payload) {
                return Err(violation(1007, "text message is not valid UTF-8"));
            }
            return Ok((end, Some(Incoming::Message(kind, payload))));
        }
        if buf.len() < 2 {
            return Ok((0, None));
        }
        let b0 = buf[0];
        let b1 = buf[1];
        let fin = b0 & 0x80 != 0;
        if b0 & 0x30 != 0 {
            return Err(violation(1002, "reserved bits set"));
        }
        let rsv1 = b0 & 0x40 != 0;
        if rsv1 && self.inflate.is_none() {
            return Err(violation(1002, "RSV1 set without permessage-deflate"));
        }
        let op = b0 & 0x0f;
        let masked = b1 & 0x80 != 0;
        if masked != self.expect_masked {
            return Err(violation(
                1002,
                if masked {
                    "masked frame from server"
                } else {
                    "unmasked frame from client"
                },
            ));
        }
        let (len, mut pos) = match b1 & 0x7f {
            126 => {
                if buf.len() < 4 {
                    return Ok((0, None));
                }
                (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
            }
            127 => {
                if buf.len() < 10 {
                    return Ok((0, None));
                }
                let l = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
                if l >> 63 != 0 {
                    return Err(violation(1002, "frame length has its top bit set"));
                }
                (l, 10)
            }
            l => (l as u64, 2),
        };
        let control = op & 0x08 != 0;
        if control {
            if !fin {
                return Err(violation(1002, "fragmented control frame"));
            }
            if len > 125 {
                return Err(violation(1002, "control frame longer than 125 bytes"));
            }
            if !matches!(op, opcode::CLOSE | opcode::PING | opcode::PONG) {
                return Err(violation(1002, "unknown control opcode"));
            }
            if rsv1 {
                return Err(violation(1002, "RSV1 set on a control frame"));
            }
        } else {
            match op {
                opcode::CONTINUATION if self.fragments.is_none() => {
                    return Err(violation(
                        1002,
                        "continuation frame without a message to continue",
                    ))
                }
                opcode::TEXT | opcode::BINARY if self.fragments.is_some() => {
                    return Err(violation(1002, "new message inside a fragmented message"))
                }
                opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => {}
                _ => return Err(violation(1002, "unknown data opcode")),
            }
            if rsv1 && op == opcode::CONTINUATION {
                return Err(violation(1002, "RSV1 set on a continuation frame"));
            }
            let compressed = self.compressed_frame(op, rsv1);
            let so_far = self.fragments.as_ref().map_or(0, |(_, v)| v.len()) as u64;
            if compressed {
                // The inflated size is checked as it is inflated; this bounds the frame's bytes.
                if len > compressed_limit(self.max_message) {
                    return Err(violation(1009, "message above max_message_size"));
                }
            } else if so_far + len > self.max_message as u64 {
                return Err(violation(1009, "message above max_message_size"));
            }
        }
        let key = if masked {
            if buf.len() < pos + 4 {
                return Ok((0, None));
            }
            let k = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
            pos += 4;
            Some(k)
        } else {
            None
        };
        let end = pos + len as usize;
        if buf.len() < end {
            if !control && !self.compressed_frame(op, rsv1) && len as usize >= DIRECT_MIN {
                self.begin_direct(op, fin, key, buf, pos, len as usize)?;
                return Ok((buf.len(), None));
            }
            return Ok((0, None));
        }
        let payload = &mut buf[pos..end];
        if let Some(k) = key {
            apply_mask(payload, k, 0);
        }
        let payload: &'a [u8] = payload;
        let event = match op {
            opcode::PING => Some(Incoming::Ping(payload)),
            opcode::PONG => Some(Incoming::Pong(payload)),
            opcode::CLOSE => Some(Self::close(payload)?),
            _ => self.data(op, fin, rsv1, payload)?,
        };
        Ok((end, event))
    }

    /// The common case, decoded inline: a complete final text or binary frame of less than
    /// 64 KiB, no reserved bit, masked as expected, within max_message_size, outside a fragmented
    /// message. Answers where its payload starts and ends, its kind and its mask key; None for
    /// anything else, which the general path decodes (and refuses where it must).
    #[inline]
    fn whole_small(&self, buf: &[u8]) -> Option<(usize, usize, MsgKind, Option<[u8; 4]>)> {
        let kind = match *buf.first()? {
            0x81 => MsgKind::Text,
            0x82 => MsgKind::Binary,
            _ => return None,
        };
        let b1 = *buf.get(1)?;
        if (b1 & 0x80 != 0) != self.expect_masked || self.fragments.is_some() {
            return None;
        }
        let (len, mut pos) = match b1 & 0x7f {
            127 => return None,
            126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
            l => (l as usize, 2),
        };
        if len > self.max_message {
            return None;
        }
        let key = if self.expect_masked {
            let k = buf.get(pos..pos + 4)?;
            let k = [k[0], k[1], k[2], k[3]];
            pos += 4;
            Some(k)
        } else {
            None
        };
        let end = pos + len;
        (buf.len() >= end).then_some((pos, end, kind, key))
    }

    /// Whether the data frame with `op` and `rsv1` carries compressed bytes.
    fn compressed_frame(&self, op: u8, rsv1: bool) -> bool {
        if op == opcode::CONTINUATION {
            self.compressed
        } else {
            rsv1
        }
    }

    fn close(payload: &[u8]) -> Result<Incoming<'_>, Violation> {
        match payload.len() {
            0 => Ok(Incoming::Close(1005, "")),
            1 => Err(violation(1002, "close frame with a one-byte payload")),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if !valid_close_code(code) {
                    return Err(violation(1002, "invalid close code"));
                }
                let reason = std::str::from_utf8(&payload[2..])
                    .map_err(|_| violation(1007, "close reason is not UTF-8"))?;
                Ok(Incoming::Close(code, reason))
            }
        }
    }

    fn data<'a>(
        &'a mut self,
        op: u8,
        fin: bool,
        rsv1: bool,
        payload: &'a [u8],
    ) -> Result<Option<Incoming<'a>>, Violation> {
        if op != opcode::CONTINUATION {
            self.compressed = rsv1;
        }
        if op != opcode::CONTINUATION && fin && !self.compressed {
            // The common case: a whole message in one frame, delivered from the read buffer.
            let kind = if op == opcode::TEXT {
                MsgKind::Text
            } else {
                MsgKind::Binary
            };
            if kind == MsgKind::Text && !utf8::is_valid(payload) {
                return Err(violation(1007, "text message is not valid UTF-8"));
            }
            return Ok(Some(Incoming::Message(kind, payload)));
        }
        if op != opcode::CONTINUATION {
            let kind = if op == opcode::TEXT {
                MsgKind::Text
            } else {
                MsgKind::Binary
            };
            self.fragments = Some((kind, Vec::new()));
            self.utf8_valid = 0;
        }
        let (kind, buf) = self
            .fragments
            .as_mut()
            .expect("a fragmented message is in progress");
        if self.compressed {
            let inf = self.inflate.as_mut().expect("RSV1 is refused without it");
            let inflater = inf
                .inflater
                .get_or_insert_with(|| Inflater::new(inf.takeover));
            let limit = self.max_message;
            let r = inflater.feed(payload, buf, limit).and_then(|_| {
                if fin {
                    inflater.finish(buf, limit)
                } else {
                    Ok(())
                }
            });
            if fin && !inf.takeover {
                inf.inflater = None;
            }
            r.map_err(|e| match e {
                InflateError::TooBig => violation(1009, "inflated message above max_message_size"),
                InflateError::Invalid => violation(1007, "invalid compressed data"),
            })?;
        } else {
            reserve_stepped(buf, payload.len());
            buf.extend_from_slice(payload);
        }
        if *kind == MsgKind::Text {
            self.check_text(fin)?;
        }
        if !fin {
            return Ok(None);
        }
        let (kind, buf) = self
            .fragments
            .take()
            .expect("a fragmented message is in progress");
        self.done = buf;
        Ok(Some(Incoming::Message(kind, self.done.as_slice())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::frame::encode;

    fn frame(fin: bool, op: u8, payload: &[u8], mask: bool) -> Vec<u8> {
        let mut f = encode(op, payload, if mask { Some([9, 8, 7, 6]) } else { None }).to_vec();
        if !fin {
            f[0] &= 0x7f;
        }
        f
    }

    #[test]
    fn single_frame_message() {
        let mut p = Parser::new(true, 100);
        let mut b = frame(true, opcode::TEXT, b"hello", true);
        let n = b.len();
        match p.next(&mut b).unwrap() {
            (used, Some(Incoming::Message(MsgKind::Text, d))) => {
                assert_eq!(used, n);
                assert_eq!(d, b"hello");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn whole_small_frames_of_every_header_form_are_decoded_inline() {
        for masked in [true, false] {
            for len in [0usize, 1, 125, 126, 1000, 65535] {
                for op in [opcode::TEXT, opcode::BINARY] {
                    let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    let mut p = Parser::new(masked, 70_000);
                    let mut f = frame(true, op, &data, masked);
                    let n = f.len();
                    // One byte short: waits, whatever form the header has (a large frame would
                    // go direct instead).
                    if len < DIRECT_MIN {
                        assert!(matches!(p.next(&mut f[..n - 1]).unwrap(), (0, None)));
                    }
                    // Two frames back to back: the first is taken alone.
                    f.extend(frame(true, op, b"x", masked));
                    let kind = if op == opcode::TEXT {
                        MsgKind::Text
                    } else {
                        MsgKind::Binary
                    };
                    match p.next(&mut f).unwrap() {
                        (used, Some(Incoming::Message(k, d))) => {
                            assert_eq!((used, k), (n, kind), "len {len}");
                            assert_eq!(d, &data[..]);
                        }
                        other => panic!("{other:?}"),
                    }
                }
            }
        }
        // Inside a fragmented message a new one is refused, as by the general path.
        let mut p = Parser::new(true, 100);
        assert!(p.next(&mut frame(false, opcode::TEXT, b"a", true)).is_ok());
        assert_eq!(
            p.next(&mut frame(true, opcode::BINARY, b"b", true))
                .unwrap_err()
                .code,
            1002
        );
    }

    #[test]
    fn frame_len_needs_a_whole_header() {
        let f = frame(true, opcode::TEXT, &[0; 300], true);
        assert_eq!(frame_len(&f), Some(f.len()));
        assert_eq!(frame_len(&f[..3]), None);
        assert_eq!(frame_len(&f[..4]), Some(f.len()));
        assert_eq!(frame_len(&[0x81]), None);
    }

    #[test]
    fn buffers_grow_in_bounded_steps() {
        let mut v = Vec::new();
        reserve_stepped(&mut v, 10);
        assert!(v.capacity() >= 10);
        v.resize(8 * GROWTH_STEP, 0);
        v.shrink_to_fit();
        reserve_stepped(&mut v, 100);
        assert!(v.capacity() >= 8 * GROWTH_STEP + 100);
        assert!(v.capacity() <= 9 * GROWTH_STEP + 100, "{}", v.capacity());
        let before = v.capacity();
        reserve_stepped(&mut v, 0);
        assert_eq!(v.capacity(), before);
    }

    #[test]
    fn partial_frame_waits() {
        let mut p = Parser::new(false, 100);
        let mut b = frame(true, opcode::BINARY, b"hello", false);
        b.pop();
        assert!(matches!(p.next(&mut b).unwrap(), (0, None)));
    }

    #[test]
    fn fragments_with_interleaved_ping() {
        let mut p = Parser::new(true, 100);
        let mut a = frame(
            false,
            opcode::TEXT,
            "h\u{e9}".as_bytes()[..2].as_ref(),
            true,
        );
        assert!(matches!(p.next(&mut a).unwrap(), (_, None)));
        let mut ping = frame(true, opcode::PING, b"p", true);
        assert!(matches!(
            p.next(&mut ping).unwrap(),
            (_, Some(Incoming::Ping(b"p")))
        ));
        let mut c = frame(true, opcode::CONTINUATION, &"h\u{e9}".as_bytes()[2..], true);
        match p.next(&mut c).unwrap() {
            (_, Some(Incoming::Message(MsgKind::Text, d))) => assert_eq!(d, "h\u{e9}".as_bytes()),
            other => panic!("{other:?}"),
        }
        let mut d = frame(true, opcode::CONTINUATION, b"x", true);
        assert_eq!(p.next(&mut d).unwrap_err().code, 1002);
    }

    #[test]
    fn violations() {
        let mut p = Parser::new(true, 4);
        assert_eq!(
            p.next(&mut frame(true, opcode::TEXT, b"hello", true))
                .unwrap_err()
                .code,
            1009
        );
        assert_eq!(
            p.next(&mut frame(true, opcode::TEXT, b"hi", false))
                .unwrap_err()
                .code,
            1002
        );
        assert_eq!(
            p.next(&mut frame(true, opcode::TEXT, &[0xff], true))
                .unwrap_err()
                .code,
            1007
        );
        assert_eq!(
            p.next(&mut frame(false, opcode::PING, b"", true))
                .unwrap_err()
                .code,
            1002
        );
        assert_eq!(
            p.next(&mut frame(true, 3, b"", true)).unwrap_err().code,
            1002
        );
        assert_eq!(
            p.next(&mut frame(true, opcode::CLOSE, &[3, 0xed], true))
                .unwrap_err()
                .code,
            1002
        );
        let mut bad = frame(false, opcode::TEXT, &[0xce], true);
        assert!(p.next(&mut bad).is_ok());
        assert_eq!(
            p.next(&mut frame(false, opcode::CONTINUATION, &[0x41], true))
                .unwrap_err()
                .code,
            1007
        );
    }

    fn compressed(data: &[u8]) -> Vec<u8> {
        let mut z = Vec::new();
        crate::engine::deflate::Deflater::new(6, 15, true).message(data, &mut z);
        z
    }

    #[test]
    fn rsv1_needs_permessage_deflate_and_a_first_data_frame() {
        let z = compressed(b"hello");
        let mut f = frame(true, opcode::TEXT, &z, true);
        f[0] |= 0x40;
        let mut p = Parser::new(true, 100);
        assert_eq!(p.next(&mut f.clone()).unwrap_err().code, 1002);
        p.enable_inflate(true);
        match p.next(&mut f).unwrap() {
            (_, Some(Incoming::Message(MsgKind::Text, d))) => assert_eq!(d, b"hello"),
            other => panic!("{other:?}"),
        }
        let mut ping = frame(true, opcode::PING, b"", true);
        ping[0] |= 0x40;
        assert_eq!(p.next(&mut ping).unwrap_err().code, 1002);
        let mut p = Parser::new(true, 100);
        p.enable_inflate(false);
        let mut first = frame(false, opcode::BINARY, &z[..2], true);
        first[0] |= 0x40;
        assert!(matches!(p.next(&mut first).unwrap(), (_, None)));
        let mut cont = frame(true, opcode::CONTINUATION, &z[2..], true);
        cont[0] |= 0x40;
        assert_eq!(p.next(&mut cont).unwrap_err().code, 1002);
        let mut rsv2 = frame(true, opcode::TEXT, b"x", true);
        rsv2[0] |= 0x20;
        assert_eq!(p.next(&mut rsv2).unwrap_err().code, 1002);
    }

    #[test]
    fn a_fragmented_compressed_message_is_inflated_within_the_limit() {
        let text = "caf\u{e9} ".repeat(40);
        let z = compressed(text.as_bytes());
        let mut p = Parser::new(false, text.len());
        p.enable_inflate(true);
        let mut a = frame(false, opcode::TEXT, &z[..z.len() / 2], false);
        a[0] |= 0x40;
        assert!(matches!(p.next(&mut a).unwrap(), (_, None)));
        assert!(p.buffered() >= INFLATER_BYTES);
        let mut b = frame(true, opcode::CONTINUATION, &z[z.len() / 2..], false);
        match p.next(&mut b).unwrap() {
            (_, Some(Incoming::Message(MsgKind::Text, d))) => assert_eq!(d, text.as_bytes()),
            other => panic!("{other:?}"),
        }
        // One byte less room: 1009.
        let mut p = Parser::new(false, text.len() - 1);
        p.enable_inflate(true);
        let mut f = frame(true, opcode::TEXT, &z, false);
        f[0] |= 0x40;
        assert_eq!(p.next(&mut f).unwrap_err().code, 1009);
        // Invalid UTF-8 inside compressed text: 1007.
        let mut p = Parser::new(false, 100);
        p.enable_inflate(true);
        let mut f = frame(true, opcode::TEXT, &compressed(&[0x41, 0xff]), false);
        f[0] |= 0x40;
        assert_eq!(p.next(&mut f).unwrap_err().code, 1007);
    }
}
