//! A server's compression of what it sends with permessage-deflate. A server always answers
//! `server_no_context_takeover` (see `deflate.rs`), so each message is compressed on its own and
//! one context-wide compressor serves every connection: a broadcast is compressed once, by the
//! broadcasting thread, and the same frame goes to every deflate subscriber; a message sent to
//! one connection is compressed on the I/O thread when that connection's batch takes it.
//!
//! The compressor is made on first use (a server with compression on but no deflate client
//! holds none) and costs about 330 KiB per context (zlib's state with a 32 KiB window), not per
//! connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use super::broadcast::Mark;
use super::deflate::Deflater;
use super::frame;

/// The broadcast log's compressed lane (kept under the log's lock): while deflate subscribers
/// exist, each segment of the log carries a second buffer with the same messages as they write
/// them, compressed once by the broadcasting thread (or plain, for a message broadcast before
/// the first deflate subscriber came, which RFC 7692 allows). Its marks count the uncompressed
/// payload, so the byte counters mean the same on both lanes. Memory: the log holds each
/// message twice while a deflate subscriber exists (the compressed copy is usually several
/// times smaller), and retention is unchanged (`queue_capacity` messages; replay history
/// counts the bytes of both lanes against its byte bound and the budget).
#[derive(Default)]
pub struct ZLane {
    subscribers: u64,
    /// The open segment's compressed frames, when it has a lane.
    open: Option<(BytesMut, Vec<Mark>)>,
}

impl ZLane {
    /// Deflate subscribers now.
    pub fn subscribers(&self) -> u64 {
        self.subscribers
    }

    /// Counts a deflate subscriber; answers whether the open segment lacks a lane (the log then
    /// seals it and calls `open`).
    pub fn subscribe(&mut self) -> bool {
        self.subscribers += 1;
        self.open.is_none()
    }

    /// A deflate subscriber left.
    pub fn unsubscribe(&mut self) {
        self.subscribers = self.subscribers.saturating_sub(1);
    }

    /// Nobody is subscribed and the open segment's frames are forgotten: its lane goes too
    /// (the next deflate subscriber starts a fresh one).
    pub fn forget(&mut self) {
        self.open = None;
    }

    /// Starts the lane of a new segment.
    pub fn open(&mut self) {
        self.open = Some((BytesMut::new(), Vec::new()));
    }

    /// Adds a message's frame (with `payload` uncompressed bytes) to the open segment's lane.
    pub fn push(&mut self, frame: &[u8], payload: u64) {
        if let Some((buf, marks)) = &mut self.open {
            buf.extend_from_slice(frame);
            let total = marks.last().map_or(0, |m| m.payload) + payload;
            marks.push(Mark {
                end: buf.len(),
                payload: total,
            });
        }
    }

    /// The open segment is sealed: its lane, if it had one; the next segment gets one while
    /// deflate subscribers exist.
    pub fn seal(&mut self) -> Option<(Bytes, Arc<[Mark]>)> {
        let lane = self
            .open
            .take()
            .map(|(buf, marks)| (buf.freeze(), marks.into()));
        if self.subscribers > 0 {
            self.open();
        }
        lane
    }
}

/// The context-wide compressor of a server with compression on.
#[derive(Debug)]
pub struct ServerDeflater {
    level: u32,
    deflater: Mutex<Option<Deflater>>,
    /// Messages compressed (each broadcast counts once however many subscribers it has).
    pub compressed: AtomicU64,
}

impl ServerDeflater {
    /// A compressor at zlib `level` (1..9), made on first use.
    pub fn new(level: u32) -> Self {
        ServerDeflater {
            level,
            deflater: Mutex::new(None),
            compressed: AtomicU64::new(0),
        }
    }

    /// The compressed frame (RSV1 set, unmasked) carrying `payload` with opcode `op`.
    pub fn frame(&self, op: u8, payload: &[u8]) -> Bytes {
        let mut z = Vec::with_capacity(payload.len() / 2 + 64);
        {
            let mut g = self.deflater.lock().unwrap_or_else(|e| e.into_inner());
            g.get_or_insert_with(|| Deflater::new(self.level, 15, false))
                .message(payload, &mut z);
        }
        self.compressed.fetch_add(1, Ordering::Relaxed);
        frame::encode_rsv(op, frame::RSV1, &z, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::broadcast::{BroadcastLog, LogView};
    use crate::engine::deflate::Inflater;
    use std::io::IoSlice;

    /// The frames of a lane from `from` to the head, split into (first byte, payload).
    fn frames(view: &LogView, from: u64, z: bool) -> Vec<(u8, Vec<u8>)> {
        let mut iov = [IoSlice::new(&[]); 64];
        let n = view.slices_lane(from, view.head(), z, &mut iov);
        let bytes: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let len = crate::engine::parser::frame_len(rest).unwrap();
            let (op, _, p) = frame::parts(&rest[..len]);
            out.push((rest[0] & 0xf0 | op, p.to_vec()));
            rest = &rest[len..];
        }
        out
    }

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = Inflater::new(false);
        i.feed(z, &mut out, 1 << 20).unwrap();
        i.finish(&mut out, 1 << 20).unwrap();
        out
    }

    #[test]
    fn a_broadcast_is_compressed_once_for_every_deflate_subscriber() {
        let log = BroadcastLog::new(64);
        let d = ServerDeflater::new(1);
        let queued = AtomicU64::new(0);
        let plain = log.subscribe_lane(false);
        // Broadcast before any deflate subscriber: nothing is compressed.
        assert!(!log.wants_compressed());
        log.append_with(frame::opcode::TEXT, b"early", None, &queued);
        let z1 = log.subscribe_lane(true);
        let z2 = log.subscribe_lane(true);
        assert!(log.wants_compressed());
        let msgs: Vec<Vec<u8>> = (0..10)
            .map(|i| format!("line {i} line {i} line").into_bytes())
            .collect();
        for m in &msgs {
            let z = d.frame(frame::opcode::TEXT, m);
            assert_eq!(
                log.append_with(frame::opcode::TEXT, m, Some(&z), &queued),
                3
            );
        }
        // Ten broadcasts, three subscribers, ten compressions.
        assert_eq!(d.compressed.load(Ordering::Relaxed), 10);
        let mut view = LogView::default();
        log.sync(&mut view, plain);
        assert_eq!(z1, z2);
        let zf = frames(&view, z1, true);
        assert_eq!(zf.len(), 10);
        for (f, m) in zf.iter().zip(&msgs) {
            assert_eq!(f.0, 0x80 | frame::RSV1 | frame::opcode::TEXT);
            assert_eq!(&inflate(&f.1), m);
        }
        let pf = frames(&view, plain, false);
        assert_eq!(pf.len(), 11);
        assert_eq!(pf[0], (0x81, b"early".to_vec()));
        assert_eq!(pf[1], (0x81, msgs[0].clone()));
        // The counters count uncompressed payload on both lanes.
        let a = view.advance_lane(z1, usize::MAX / 2, true);
        let b = view.advance_lane(z1, usize::MAX / 2, false);
        assert_eq!((a.messages, a.payload_bytes), (b.messages, b.payload_bytes));
        assert_eq!(log.unsubscribe_lane(z1, true), 10);
        // One deflate subscriber is left: still compressed.
        assert!(log.wants_compressed());
        assert_eq!(log.unsubscribe_lane(z2, true), 10);
        assert!(!log.wants_compressed());
    }

    #[test]
    fn a_message_without_a_compressed_frame_goes_plain_on_the_lane() {
        let log = BroadcastLog::new(64);
        let queued = AtomicU64::new(0);
        let z = log.subscribe_lane(true);
        log.append_with(frame::opcode::BINARY, b"raced", None, &queued);
        let mut view = LogView::default();
        log.sync(&mut view, z);
        assert_eq!(frames(&view, z, true), vec![(0x82, b"raced".to_vec())]);
    }

    #[test]
    fn a_lane_forgotten_with_nobody_subscribed_does_not_replay_old_frames() {
        let log = BroadcastLog::new(64);
        let d = ServerDeflater::new(1);
        let queued = AtomicU64::new(0);
        let z = log.subscribe_lane(true);
        for m in [&b"old 1"[..], b"old 2"] {
            log.append_with(
                frame::opcode::TEXT,
                m,
                Some(&d.frame(frame::opcode::TEXT, m)),
                &queued,
            );
        }
        // It leaves before the I/O thread looked; the next broadcast has nobody to go to.
        log.unsubscribe_lane(z, true);
        log.append_with(frame::opcode::TEXT, b"nobody", None, &queued);
        let z = log.subscribe_lane(true);
        let m = b"fresh";
        log.append_with(
            frame::opcode::TEXT,
            m,
            Some(&d.frame(frame::opcode::TEXT, m)),
            &queued,
        );
        let mut view = LogView::default();
        log.sync(&mut view, z);
        let got = frames(&view, z, true);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 0x80 | frame::RSV1 | frame::opcode::TEXT);
        assert_eq!(inflate(&got[0].1), m);
    }

    #[test]
    fn history_counts_the_bytes_of_both_lanes() {
        use crate::engine::retention::Retention;
        let r = Retention {
            messages: 1000,
            bytes: 1 << 20,
        };
        let log = BroadcastLog::with_retention(64, r);
        let d = ServerDeflater::new(1);
        let queued = AtomicU64::new(0);
        let mut view = LogView::default();
        let msg = [b'a'; 100];
        for _ in 0..10 {
            log.append_with(frame::opcode::TEXT, &msg, None, &queued);
        }
        log.sync(&mut view, u64::MAX);
        assert_eq!(log.history_bytes(), 10 * 102);
        let z = log.subscribe_lane(true);
        let zf = d.frame(frame::opcode::TEXT, &msg);
        for _ in 0..10 {
            log.append_with(frame::opcode::TEXT, &msg, Some(&zf), &queued);
        }
        log.unsubscribe_lane(z, true);
        log.sync(&mut view, u64::MAX);
        assert_eq!(log.history_bytes(), 20 * 102 + 10 * zf.len());
        // The byte bound counts the same: history over it is trimmed, oldest segments first.
        let mut small = LogView::default();
        log.sync_within(&mut small, u64::MAX, 10 * 102 + 10 * zf.len());
        assert!(log.history_bytes() <= 10 * 102 + 10 * zf.len());
    }

    #[test]
    fn server_frames_inflate_on_their_own() {
        let d = ServerDeflater::new(6);
        for msg in [&b"first line first line"[..], b"second line", b""] {
            let f = d.frame(frame::opcode::TEXT, msg);
            assert_eq!(f[0], 0x80 | frame::RSV1 | frame::opcode::TEXT);
            let (_, mask, z) = frame::parts(&f);
            assert!(mask.is_none());
            // Each frame inflates with a fresh inflater: no context is carried over.
            let mut out = Vec::new();
            let mut i = Inflater::new(false);
            i.feed(z, &mut out, 1000).unwrap();
            i.finish(&mut out, 1000).unwrap();
            assert_eq!(out, msg);
        }
        assert_eq!(d.compressed.load(Ordering::Relaxed), 3);
    }
}
