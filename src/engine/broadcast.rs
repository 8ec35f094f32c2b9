//! A server's broadcast log. `ws_broadcast` frames its message once, appending it to a shared
//! sequence of segments (contiguous runs of frames); each subscriber keeps only a cursor, the
//! sequence number of the next message it has to write. A broadcast thus costs one append
//! however many subscribers there are, and the I/O thread writes a subscriber's backlog as a few
//! large slices rather than one buffer per message.
//!
//! Retention: the log keeps at most `queue_capacity` messages (less by up to an eighth, as it
//! drops whole segments) and none that every subscriber has written. A subscriber whose cursor
//! falls below the oldest message kept has lost messages; the I/O thread then applies the slow
//! policy to it.
//!
//! Replay (`retention.rs`, `replay.rs`): with retention on, every broadcast is kept and numbered
//! even with nobody subscribed, and what every subscriber wrote stays as history within the
//! retention's bounds; a subscriber can start at an older cursor (`subscribe_at`).
//!
//! Counting: a broadcast adds one queued message per subscriber under the log's lock, and a
//! subscriber leaving takes back, under the same lock, what it had not written; so
//! `messages_queued` never counts a subscriber that is gone or misses one that is there.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use super::broadcast_deflate::ZLane;
use super::frame;
use super::retention::Retention;

/// The segment being filled is closed at this size (a larger frame gets one of its own).
const SEGMENT_BYTES: usize = 256 * 1024;

/// Where a frame ends within its segment, and the payload bytes up to there.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    /// Where the frame ends.
    pub(super) end: usize,
    /// Payload bytes of the segment's messages up to this one (uncompressed).
    pub(super) payload: u64,
}

/// Consecutive frames in one buffer.
#[derive(Clone)]
struct Segment {
    /// Sequence number of its first message.
    first: u64,
    data: Bytes,
    /// One per frame, so that a write is accounted for by a binary search rather than a walk
    /// over the frames it carried.
    marks: Arc<[Mark]>,
    /// The same messages as permessage-deflate subscribers write them (`broadcast_deflate.rs`).
    z: Option<Box<Segment>>,
}

impl Segment {
    /// The frames a subscriber writes: the compressed lane for a deflate subscriber (`z`) when
    /// the segment has one.
    fn lane(&self, z: bool) -> &Segment {
        match &self.z {
            Some(zs) if z => zs,
            _ => self,
        }
    }

    /// Sequence number after its last message.
    fn end(&self) -> u64 {
        self.first + self.marks.len() as u64
    }

    /// Where message `seq` starts, in bytes of `data` and in payload bytes before it (`end()`
    /// gives the totals).
    fn mark_before(&self, seq: u64) -> Mark {
        match (seq - self.first) as usize {
            0 => Mark { end: 0, payload: 0 },
            k => self.marks[k - 1],
        }
    }

    /// Offset in `data` where message `seq` starts.
    fn offset(&self, seq: u64) -> usize {
        self.mark_before(seq).end
    }

    /// Bytes it holds: its frames and those of its compressed lane, if any.
    fn held(&self) -> usize {
        self.data.len() + self.z.as_ref().map_or(0, |z| z.data.len())
    }
}

struct Inner {
    sealed: VecDeque<Segment>,
    open: BytesMut,
    open_marks: Vec<Mark>,
    /// Sequence number of the next message.
    head: u64,
    subscribers: u64,
    /// The compressed lane of the open segment, kept while deflate subscribers exist.
    zlane: ZLane,
}

impl Inner {
    fn open_first(&self) -> u64 {
        self.head - self.open_marks.len() as u64
    }

    fn base(&self) -> u64 {
        self.sealed.front().map_or(self.open_first(), |s| s.first)
    }

    fn seal(&mut self) {
        if self.open_marks.is_empty() {
            return;
        }
        let first = self.open_first();
        let data = self.open.split().freeze();
        let marks: Arc<[Mark]> = std::mem::take(&mut self.open_marks).into();
        let z = self.zlane.seal().map(|(data, marks)| {
            Box::new(Segment {
                first,
                data,
                marks,
                z: None,
            })
        });
        self.sealed.push_back(Segment {
            first,
            data,
            marks,
            z,
        });
    }
}

/// The shared half: appended to by broadcasting threads, read by the I/O thread's `LogView`.
pub struct BroadcastLog {
    inner: Mutex<Inner>,
    head: AtomicU64,
    capacity: u64,
    segment_messages: usize,
    /// The segment being filled is closed at this size: SEGMENT_BYTES, or less so that history
    /// is trimmed to its byte bound in steps of an eighth of it.
    segment_bytes: usize,
    retention: Retention,
    /// Bytes of history (segments every subscriber wrote, with their compressed lanes) as of
    /// the last sync.
    history: AtomicUsize,
    /// Deflate subscribers, mirrored out of the lock (changed under it): `wants_compressed`
    /// is asked before every broadcast and must not take the lock a second time.
    z_subscribers: AtomicU64,
}

impl BroadcastLog {
    /// An empty log keeping at most `capacity` messages.
    #[cfg(test)]
    pub fn new(capacity: usize) -> Self {
        Self::with_retention(capacity, Retention::OFF)
    }

    /// An empty log keeping at most `capacity` messages, or the retention's if more, and
    /// history for replay as `retention` says.
    pub fn with_retention(capacity: usize, retention: Retention) -> Self {
        let capacity = (capacity as u64).max(retention.messages).max(1);
        let segment_messages = usize::try_from(capacity / 8).unwrap_or(usize::MAX).max(1);
        BroadcastLog {
            inner: Mutex::new(Inner {
                sealed: VecDeque::new(),
                open: BytesMut::new(),
                open_marks: Vec::new(),
                head: 0,
                subscribers: 0,
                zlane: ZLane::default(),
            }),
            head: AtomicU64::new(0),
            capacity,
            segment_messages,
            segment_bytes: match retention.on() {
                true => (retention.bytes / 8).clamp(4096, SEGMENT_BYTES),
                false => SEGMENT_BYTES,
            },
            retention,
            history: AtomicUsize::new(0),
            z_subscribers: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sequence number of the next message: a message sent to one connection records it, so
    /// that it is written after the broadcasts that came before it and before those after it.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Frames `payload` (unmasked) once for every current subscriber, adding one per subscriber
    /// to `queued`; answers how many subscribers there are (0: nothing was kept, unless
    /// retention is on). `zframe` is the message's compressed frame for the deflate
    /// subscribers' lane (None: they get the plain frame, which RFC 7692 allows).
    pub fn append_with(
        &self,
        op: u8,
        payload: &[u8],
        zframe: Option<&[u8]>,
        queued: &AtomicU64,
    ) -> u64 {
        let mut g = self.lock();
        if g.subscribers == 0 && !self.retention.on() {
            // Nobody needs it, nor anything kept: it only takes its number, so that a
            // subscriber asking for replay is told it missed it (`replay.rs`).
            g.sealed.clear();
            g.open.clear();
            g.open_marks.clear();
            // The compressed lane goes with them: a lane left with frames the plain side
            // forgot would be out of step with the next deflate subscriber's segment.
            g.zlane.forget();
            g.head += 1;
            self.head.store(g.head, Ordering::Release);
            return 0;
        }
        let (h, n) = frame::header(op, payload.len(), None);
        let need = n + payload.len();
        if g.open.capacity() - g.open.len() < need {
            g.seal();
            g.open = BytesMut::with_capacity(need.max(self.segment_bytes));
        }
        let start = g.open.len();
        g.open.extend_from_slice(&h[..n]);
        g.open.extend_from_slice(payload);
        let end = g.open.len();
        let g = &mut *g;
        g.zlane
            .push(zframe.unwrap_or(&g.open[start..end]), payload.len() as u64);
        let payload = g.open_marks.last().map_or(0, |m| m.payload) + payload.len() as u64;
        g.open_marks.push(Mark { end, payload });
        g.head += 1;
        self.head.store(g.head, Ordering::Release);
        queued.fetch_add(g.subscribers, Ordering::SeqCst);
        if g.open_marks.len() >= self.segment_messages || g.open.len() >= self.segment_bytes {
            g.seal();
        }
        while g.head - g.base() > self.capacity && g.sealed.pop_front().is_some() {}
        g.subscribers
    }

    /// Whether broadcasts are kept for replay.
    pub fn retains(&self) -> bool {
        self.retention.on()
    }

    /// Bytes of history kept for replay as of the last sync: the frames of both lanes, what
    /// the log really holds (the retention's byte bound and the budget count the same).
    pub fn history_bytes(&self) -> usize {
        self.history.load(Ordering::Relaxed)
    }

    /// `append_with` without a compressed frame.
    #[cfg(test)]
    pub fn append(&self, op: u8, payload: &[u8], queued: &AtomicU64) -> u64 {
        self.append_with(op, payload, None, queued)
    }

    /// Adds a plain subscriber; answers its cursor (it gets the broadcasts from now on).
    #[cfg(test)]
    pub fn subscribe(&self) -> u64 {
        self.subscribe_lane(false)
    }

    /// Adds a subscriber of the compressed lane (`z`) or the plain one; answers its cursor (it
    /// gets the broadcasts from now on).
    #[cfg(test)]
    pub fn subscribe_lane(&self, z: bool) -> u64 {
        self.subscribe_at(z, |_, head| head).cursor
    }

    /// Adds a subscriber whose cursor `start(base, head)` chooses under the log's lock (so no
    /// broadcast can come between what it saw and where it starts), clamped to what the log
    /// holds. A deflate subscriber (`z`) writes the compressed lane, started here if none is
    /// open (history sealed before has no compressed lane: it gets those frames plain, which
    /// RFC 7692 allows).
    pub fn subscribe_at(&self, z: bool, start: impl FnOnce(u64, u64) -> u64) -> Start {
        let mut g = self.lock();
        g.subscribers += 1;
        if z && g.zlane.subscribe() {
            // The open segment has no compressed lane: what comes next starts one.
            g.seal();
            g.zlane.open();
        }
        self.z_subscribers
            .store(g.zlane.subscribers(), Ordering::Relaxed);
        let (base, head) = (g.base(), g.head);
        let cursor = start(base, head).clamp(base, head);
        Start { cursor, base, head }
    }

    /// Removes the subscriber at `cursor` (of the compressed lane: `z`); answers how many
    /// messages it had not written.
    pub fn unsubscribe_lane(&self, cursor: u64, z: bool) -> u64 {
        let mut g = self.lock();
        g.subscribers -= 1;
        if z {
            g.zlane.unsubscribe();
            self.z_subscribers
                .store(g.zlane.subscribers(), Ordering::Relaxed);
        }
        g.head - cursor
    }

    /// Whether a broadcast should be compressed now: a deflate subscriber exists. Read without
    /// the lock: a subscriber joining between this answer and the append gets that one
    /// broadcast plain (RFC 7692 allows it); one leaving makes a compression wasted, no more.
    pub fn wants_compressed(&self) -> bool {
        self.z_subscribers.load(Ordering::Relaxed) > 0
    }

    /// Brings `view` up to date, first forgetting what every subscriber has written (all are
    /// at `min_cursor` or beyond).
    #[cfg(test)]
    pub fn sync(&self, view: &mut LogView, min_cursor: u64) {
        self.sync_within(view, min_cursor, usize::MAX);
    }

    /// `sync`, keeping at most `history_max` bytes of history (the memory budget's share).
    pub fn sync_within(&self, view: &mut LogView, min_cursor: u64, history_max: usize) {
        let mut g = self.lock();
        g.seal();
        let bound = Retention {
            bytes: self.retention.bytes.min(history_max),
            ..self.retention
        };
        let written = |s: &&Segment| s.end() <= min_cursor;
        let mut history: usize = match bound.on() {
            true => g.sealed.iter().take_while(written).map(Segment::held).sum(),
            false => 0,
        };
        while let Some(s) = g.sealed.front().filter(written) {
            if !bound.drops(s.end(), g.head, history) {
                break;
            }
            history -= s.held().min(history);
            g.sealed.pop_front();
        }
        self.history.store(history, Ordering::Relaxed);
        let base = g.base();
        while view.segs.front().is_some_and(|s| s.end() <= base) {
            view.segs.pop_front();
        }
        let fresh = g.sealed.iter().filter(|s| s.first >= view.head);
        view.segs.extend(fresh.cloned());
        view.base = base;
        view.head = g.head;
        view.settled = min_cursor >= g.head;
    }
}

/// Where a new subscriber starts, and what the log held then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Its cursor: the next broadcast it writes.
    pub cursor: u64,
    /// The oldest broadcast the log held.
    pub base: u64,
    /// The next broadcast to come.
    pub head: u64,
}

/// The I/O thread's copy of the log as of its last sync: sharing the segments' buffers, so that
/// writing from it takes no lock and a segment the log drops meanwhile stays readable.
#[derive(Default)]
pub struct LogView {
    segs: VecDeque<Segment>,
    base: u64,
    head: u64,
    settled: bool,
}

/// A frame a write ended in.
#[derive(Debug)]
pub struct Partial {
    /// The whole frame.
    pub frame: Bytes,
    /// How much of it is written.
    pub written: usize,
    /// Its payload length.
    pub payload: usize,
}

/// What a write of log bytes did to a subscriber's cursor.
#[derive(Debug, Default)]
pub struct Advanced {
    /// The new cursor.
    pub cursor: u64,
    /// Messages written in full.
    pub messages: u64,
    /// Their payload bytes.
    pub payload_bytes: u64,
    /// The message the write ended in: it leaves the log for the connection's own batch, so
    /// the cursor is always at a frame start.
    pub partial: Option<Partial>,
}

impl LogView {
    /// The oldest message kept.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Sequence number after the newest message seen.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Whether every subscriber had written everything at the last sync: until the next
    /// broadcast there is nothing to free (history stays as retention decided).
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// Makes the next sync happen even without news (to trim history).
    pub fn unsettle(&mut self) {
        self.settled = false;
    }

    fn segment_of(&self, seq: u64) -> Option<usize> {
        if seq < self.base || seq >= self.head {
            return None;
        }
        Some(self.segs.partition_point(|s| s.end() <= seq))
    }

    /// Fills `iov` with the frames from `from` up to `to` (exclusive) of the compressed lane
    /// (`z`) or the plain one, as far as it has room; answers the number of slices used.
    pub fn slices_lane<'a>(
        &'a self,
        from: u64,
        to: u64,
        z: bool,
        iov: &mut [IoSlice<'a>],
    ) -> usize {
        let Some(mut i) = self.segment_of(from) else {
            return 0;
        };
        let (mut seq, mut n) = (from, 0);
        while n < iov.len() && seq < to && i < self.segs.len() {
            let s = self.segs[i].lane(z);
            let stop = to.min(s.end());
            iov[n] = IoSlice::new(&s.data[s.offset(seq)..s.offset(stop)]);
            n += 1;
            seq = stop;
            i += 1;
        }
        n
    }

    /// Accounts for `written` bytes of the frames from `from` on (of the compressed lane: `z`).
    pub fn advance_lane(&self, from: u64, mut written: usize, z: bool) -> Advanced {
        let mut a = Advanced {
            cursor: from,
            ..Advanced::default()
        };
        let Some(mut i) = self.segment_of(from) else {
            return a;
        };
        while written > 0 && i < self.segs.len() {
            let s = self.segs[i].lane(z);
            let k0 = (a.cursor - s.first) as usize;
            let start = s.mark_before(a.cursor);
            let target = start.end + written;
            let k1 = k0 + s.marks[k0..].partition_point(|m| m.end <= target);
            let done = s.first + k1 as u64;
            let reached = s.mark_before(done);
            a.messages += (k1 - k0) as u64;
            a.payload_bytes += reached.payload - start.payload;
            written -= reached.end - start.end;
            a.cursor = done;
            if k1 < s.marks.len() {
                if written > 0 {
                    let next = s.marks[k1];
                    a.partial = Some(Partial {
                        frame: s.data.slice(reached.end..next.end),
                        written,
                        payload: (next.payload - reached.payload) as usize,
                    });
                    a.cursor += 1;
                }
                break;
            }
            i += 1;
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(view: &LogView, from: u64, to: u64) -> Vec<u8> {
        let mut iov = [IoSlice::new(&[]); 64];
        let n = view.slices_lane(from, to, false, &mut iov);
        iov[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn frames_are_kept_in_order_and_counted_per_subscriber() {
        let log = BroadcastLog::new(64);
        let queued = AtomicU64::new(0);
        let mut view = LogView::default();
        let cur = log.subscribe();
        log.subscribe();
        for i in 0..20u8 {
            assert_eq!(
                log.append_with(frame::opcode::BINARY, &[i; 3], None, &queued),
                2
            );
        }
        assert_eq!(queued.load(Ordering::SeqCst), 40);
        log.sync(&mut view, cur);
        assert_eq!((view.base(), view.head()), (0, 20));
        let bytes = written(&view, cur, view.head());
        assert_eq!(bytes.len(), 20 * 5);
        assert_eq!(&bytes[5..10], &[0x82, 3, 1, 1, 1]);
        // A write ending inside frame 3: frames 0..3 done, frame 3 handed over whole.
        let a = view.advance_lane(cur, 17, false);
        assert_eq!((a.cursor, a.messages, a.payload_bytes), (4, 3, 9));
        let p = a.partial.expect("partial frame");
        assert_eq!(
            (&p.frame[..], p.written, p.payload),
            (&[0x82, 3, 3, 3, 3][..], 2, 3)
        );
        assert_eq!(log.unsubscribe_lane(a.cursor, false), 16);
    }

    #[test]
    fn without_subscribers_a_broadcast_is_numbered_not_kept() {
        let log = BroadcastLog::new(64);
        let queued = AtomicU64::new(0);
        let cur = log.subscribe();
        log.append(frame::opcode::TEXT, b"kept", &queued);
        assert_eq!(log.unsubscribe_lane(cur, false), 1);
        // What nobody needs any more goes with the next broadcast, which only takes a number.
        assert_eq!(log.append(frame::opcode::TEXT, b"nobody", &queued), 0);
        let mut view = LogView::default();
        log.sync(&mut view, u64::MAX);
        assert_eq!((log.head(), view.head(), view.base()), (2, 2, 2));
        assert!(view.segs.is_empty());
        assert_eq!(queued.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn history_is_kept_within_retention_and_bytes() {
        let r = Retention {
            messages: 40,
            bytes: 1 << 20,
        };
        let log = BroadcastLog::with_retention(16, r);
        let queued = AtomicU64::new(0);
        for _ in 0..100 {
            log.append(frame::opcode::TEXT, b"0123456789", &queued);
        }
        let mut view = LogView::default();
        log.sync(&mut view, u64::MAX);
        // At least the last 40, at most one segment (40 / 8 messages) more.
        assert!((55..=60).contains(&view.base()), "{}", view.base());
        assert_eq!(log.history_bytes(), (100 - view.base() as usize) * 12);
        // A late subscriber starts where it asks, within what is held.
        let s = log.subscribe_at(false, |_, _| 70);
        assert_eq!((s.cursor, s.head), (70, 100));
        let s = log.subscribe_at(false, |_, _| 0);
        assert_eq!(s.cursor, view.base());
        // The budget's share cuts history, but never what a subscriber still has to write.
        log.sync_within(&mut view, s.cursor, 0);
        assert_eq!(view.base(), s.cursor);
        log.sync_within(&mut view, 80, 0);
        assert!((75..=80).contains(&view.base()), "{}", view.base());
        assert_eq!(log.history_bytes(), 0);
    }

    #[test]
    fn retention_is_bounded_and_written_messages_are_forgotten() {
        let log = BroadcastLog::new(16);
        let queued = AtomicU64::new(0);
        let cur = log.subscribe_lane(false);
        for _ in 0..100 {
            log.append_with(frame::opcode::TEXT, b"x", None, &queued);
        }
        let mut view = LogView::default();
        log.sync(&mut view, cur);
        assert_eq!(view.head(), 100);
        assert!(
            view.base() >= 100 - 16 && view.base() <= 100 - 14,
            "{}",
            view.base()
        );
        assert!(
            cur < view.base(),
            "the subscriber that wrote nothing lost messages"
        );
        log.sync(&mut view, 100);
        assert_eq!(view.base(), 100);
        assert!(view.segs.is_empty());
        assert_eq!(written(&view, 100, 100).len(), 0);
    }

    #[test]
    fn large_frames_survive_segment_changes() {
        let log = BroadcastLog::new(64);
        let queued = AtomicU64::new(0);
        let cur = log.subscribe_lane(false);
        let mut expected = Vec::new();
        let mut view = LogView::default();
        for i in 0..32u32 {
            let mut p = vec![(i % 251) as u8; 65536];
            p[..4].copy_from_slice(&i.to_be_bytes());
            log.append_with(frame::opcode::BINARY, &p, None, &queued);
            expected.extend_from_slice(&frame::encode(frame::opcode::BINARY, &p, None));
            if i == 2 {
                log.sync(&mut view, cur);
            }
        }
        log.sync(&mut view, cur);
        let mut iov = [IoSlice::new(&[]); 64];
        let n = view.slices_lane(cur, view.head(), false, &mut iov);
        let got: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected);
        // Accounting for any write length across segments matches a walk over the frames.
        let frame_len = 65536 + 10;
        for w in [
            1,
            frame_len - 1,
            frame_len,
            frame_len + 1,
            5 * frame_len + 7,
            32 * frame_len,
        ] {
            let a = view.advance_lane(cur, w, false);
            let whole = (w / frame_len) as u64;
            assert_eq!((a.messages, a.payload_bytes), (whole, whole * 65536), "{w}");
            match a.partial {
                Some(p) => {
                    assert_eq!((p.frame.len(), p.written), (frame_len, w % frame_len));
                    assert_eq!(p.payload, 65536);
                    assert_eq!(a.cursor, whole + 1);
                }
                None => assert_eq!((a.cursor, w % frame_len), (whole, 0)),
            }
        }
    }
}
