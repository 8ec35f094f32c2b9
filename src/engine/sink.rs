//! Where the I/O thread sends events: straight to the handler (thread dispatch) or into the
//! manual-dispatch queue. Counts errors and logs on the way.

use std::sync::Arc;

use super::acks::receiver::RxAck;
use super::error::Error;
use super::event::{Event, Handler, MsgKind};
use super::log::Level;
use super::shared::Shared;
use super::stats::Stats;
use crate::ws_log;

/// The I/O thread's event outlet.
pub struct Sink {
    handler: Option<Box<dyn Handler>>,
    shared: Arc<Shared>,
}

impl Sink {
    /// An outlet for `shared`'s context; `handler` is None under manual dispatch.
    pub fn new(shared: Arc<Shared>, handler: Option<Box<dyn Handler>>) -> Self {
        Sink { handler, shared }
    }

    fn hold(&self, ev: Event) {
        if let Some(m) = &self.shared.manual {
            m.push(ev);
        }
    }

    /// A connection opened.
    pub fn connect(&mut self, id: u64) {
        ws_log!(Level::Info, "connection {id} open");
        match &mut self.handler {
            Some(h) => h.on_connect(id),
            None => self.hold(Event::Connect(id)),
        }
    }

    /// A message arrived (`ack`: the connection's acknowledgement numbers and the message's
    /// number, on a connection with acknowledgements); answers whether the handler asked to
    /// pause reading.
    pub fn receive(
        &mut self,
        id: u64,
        data: &[u8],
        kind: MsgKind,
        ack: Option<(&RxAck, u64)>,
    ) -> bool {
        match &mut self.handler {
            Some(h) => {
                let Some((a, seq)) = ack else {
                    return h.on_receive(id, data, kind);
                };
                a.delivering(seq);
                let pause = h.on_receive(id, data, kind);
                // The I/O thread is the caller: it looks at what became safe after the read.
                a.delivered(seq, self.shared.config.acks);
                pause
            }
            None => {
                let seq = ack.map_or(0, |(_, s)| s);
                self.hold(Event::Receive(id, data.to_vec(), kind, seq));
                false
            }
        }
    }

    /// A queue has room again.
    pub fn writable(&mut self, id: u64) {
        match &mut self.handler {
            Some(h) => h.on_writable(id),
            None => self.hold(Event::Writable(id)),
        }
    }

    /// A connection ended.
    pub fn close(&mut self, id: u64, code: u16, reason: &str) {
        ws_log!(Level::Info, "connection {id} closed with {code} {reason}");
        match &mut self.handler {
            Some(h) => {
                self.shared.peer_closed(id);
                h.on_close(id, code, reason);
            }
            None => self.hold(Event::Close(id, code, reason.to_string())),
        }
    }

    /// Client with `report_sent`: tells the handler how far the written prefix of the sequence
    /// numbers reached, if it grew since the last report (`conn` wrote the last of them).
    pub fn sent(&mut self, conn: u64) {
        if !self.shared.config.report_sent {
            return;
        }
        let Some(upto) = self.shared.take_sent_report() else {
            return;
        };
        match &mut self.handler {
            Some(h) => h.on_sent(conn, upto),
            None => self.hold(Event::Sent(conn, upto)),
        }
    }

    /// Client with `report_acked`: tells the handler how far the acknowledged prefix of the
    /// sequence numbers reached, if it grew since the last report.
    pub fn acked(&mut self, conn: u64) {
        if !self.shared.config.report_acked {
            return;
        }
        let Some(upto) = self.shared.take_acked_report() else {
            return;
        };
        match &mut self.handler {
            Some(h) => h.on_acked(conn, upto),
            None => self.hold(Event::Acked(conn, upto)),
        }
    }

    /// Something failed.
    pub fn error(&mut self, id: u64, err: Error) {
        Stats::inc(&self.shared.stats.errors);
        ws_log!(Level::Warn, "connection {id}: {}", err.message);
        match &mut self.handler {
            Some(h) => h.on_error(id, &err),
            None => self.hold(Event::Error(id, err)),
        }
    }

    /// Whether manual dispatch is so far behind that reading must wait.
    pub fn backlog_full(&self) -> bool {
        self.shared
            .manual
            .as_ref()
            .is_some_and(|m| m.backlog_full())
    }
}
