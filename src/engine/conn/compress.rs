//! permessage-deflate on one connection: what was agreed at the opening handshake, the
//! compression of the data messages its batch takes from the queue, and what that holds.
//!
//! A server compresses with the context's shared compressor (`broadcast_deflate.rs`), a client
//! with its own (context takeover unless the server asked for none, so a stream of similar log
//! lines compresses well). Frames an earlier connection did not write, or wrote without their
//! acknowledgement, come back uncompressed (`Chunk::rewound`: their compressed form only
//! inflates in the old connection's context) and are compressed again by the next connection's
//! compressor, ahead of its own messages.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{Chunk, Conn};
use crate::engine::config::Config;
use crate::engine::deflate::codec::INFLATER_BYTES;
use crate::engine::deflate::{Agreed, Deflater};
use crate::engine::frame::{self, apply_mask};
use crate::engine::shared::Shared;
use crate::engine::stream::Transport;

/// How a connection with permessage-deflate sends its data messages.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// Uncompressed (a window the compressor cannot honour was asked for).
    Plain,
    /// Server: with the context's shared compressor.
    Shared,
    /// Client: with its own compressor.
    Own(Box<Deflater>, u8),
}

/// What a client's compressor holds with a window of `bits` (zlib at memLevel 8: the window and
/// its hash chains, 4 << bits, plus the hash heads and the symbol buffer, about 192 KiB).
pub fn deflater_bytes(bits: u8) -> usize {
    (4usize << bits) + 192 * 1024
}

/// Client: whether to offer permessage-deflate: compression is on and the memory budget holds
/// what a compressed connection needs twice over (a smaller budget would close the connection
/// with 1008 as soon as it opened, and again at every reconnect).
pub fn client_offers(c: &Config) -> bool {
    c.compression > 0 && c.max_buffered_bytes >= 2 * (deflater_bytes(15) + INFLATER_BYTES)
}

impl<S: Transport> Conn<S> {
    /// Whether this connection negotiated permessage-deflate.
    pub fn compressed(&self) -> bool {
        self.outgoing.is_some()
    }

    /// The opening handshake agreed on permessage-deflate.
    pub(super) fn start_deflate(&mut self, agreed: Agreed, shared: &Shared) {
        self.parser.enable_inflate(agreed.recv_takeover);
        let level = shared.config.compression;
        self.outgoing = Some(match agreed.send_window {
            None => Outgoing::Plain,
            Some(_) if self.is_server => Outgoing::Shared,
            Some(bits) => Outgoing::Own(
                Box::new(Deflater::new(level, bits, agreed.send_takeover)),
                bits,
            ),
        });
    }

    /// Server: whether this connection writes the broadcast log's compressed lane.
    pub fn bcast_lane(&self) -> bool {
        matches!(self.outgoing, Some(Outgoing::Shared))
    }

    /// Counts this connection among the compressed ones once it is open.
    pub fn count_compressed(&self, shared: &Shared, open: bool) {
        if self.compressed() {
            let c = &shared.stats.connections_compressed;
            if open {
                c.fetch_add(1, Ordering::Relaxed);
            } else {
                c.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Bytes the connection's own compressor holds (counted in the context's budget).
    pub(super) fn deflate_held(&self) -> usize {
        match &self.outgoing {
            Some(Outgoing::Own(_, bits)) => deflater_bytes(*bits),
            _ => 0,
        }
    }

    /// A data chunk an earlier connection handed over (rewound, uncompressed), as this one
    /// writes it: compressed when it compresses its messages.
    pub(super) fn deflate_carried(&mut self, c: Chunk, shared: &Shared) -> Chunk {
        if !self.compressed() || c.payload.is_none() || c.off != 0 || c.plain.is_some() {
            return c;
        }
        let (data, plain) = self.deflate_frame(c.data, shared);
        Chunk { data, plain, ..c }
    }

    /// The frame to write for a data message framed by the sender (`frame`), and the frame to
    /// put back if it is carried over to another connection: compressed when this connection
    /// compresses its messages.
    pub(super) fn deflate_frame(
        &mut self,
        frame: Bytes,
        shared: &Shared,
    ) -> (Bytes, Option<Bytes>) {
        let (op, mask, body) = frame::parts(&frame);
        match &mut self.outgoing {
            None | Some(Outgoing::Plain) => (frame, None),
            Some(Outgoing::Shared) => match &shared.deflate {
                Some(d) => (d.frame(op, body), None),
                None => (frame, None),
            },
            Some(Outgoing::Own(d, _)) => {
                let mut payload = body.to_vec();
                if let Some(k) = mask {
                    apply_mask(&mut payload, k, 0);
                }
                let mut z = Vec::with_capacity(payload.len() / 2 + 64);
                d.message(&payload, &mut z);
                let out = frame::encode_rsv(op, frame::RSV1, &z, mask);
                (out, Some(frame))
            }
        }
    }
}
