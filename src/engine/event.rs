//! What the engine tells the application: the handler trait, and the owned form of its calls that
//! manual dispatch holds until the application asks for them.

use super::error::Error;

/// Kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgKind {
    /// UTF-8 text.
    Text,
    /// Bytes.
    Binary,
}

/// Receives a context's events. Runs on the I/O thread (or, with manual dispatch, on the thread
/// that calls `Context::dispatch`); it must not block for long.
pub trait Handler: Send {
    /// A connection opened.
    fn on_connect(&mut self, conn: u64);
    /// A message arrived; answer true to pause reading this connection.
    fn on_receive(&mut self, conn: u64, data: &[u8], kind: MsgKind) -> bool;
    /// The connection's queue has room again, after `request_writable`.
    fn on_writable(&mut self, conn: u64);
    /// A connection ended.
    fn on_close(&mut self, conn: u64, code: u16, reason: &str);
    /// Something failed (`conn` 0 when no connection is concerned).
    fn on_error(&mut self, conn: u64, err: &Error);
    /// Client with `Config::report_sent`: every message numbered up to `upto_seq` (see
    /// `Context::send_seq`) is written completely to the socket, the last of them by `conn`.
    /// Called at most once per write round, with a number above the one before.
    fn on_sent(&mut self, conn: u64, upto_seq: u64) {
        let _ = (conn, upto_seq);
    }
    /// Client with `Config::report_acked`: every message numbered up to `upto_seq` is
    /// acknowledged by the server (docs/acks.md), the last of them on `conn`. Called at most
    /// once per read round, with a number above the one before.
    fn on_acked(&mut self, conn: u64, upto_seq: u64) {
        let _ = (conn, upto_seq);
    }
}

/// One held handler call (manual dispatch).
#[derive(Debug)]
pub enum Event {
    /// `on_connect`.
    Connect(u64),
    /// `on_receive`, with its own copy of the message and its number on a connection with
    /// acknowledgements (0 without).
    Receive(u64, Vec<u8>, MsgKind, u64),
    /// `on_writable`.
    Writable(u64),
    /// `on_close`.
    Close(u64, u16, String),
    /// `on_error`.
    Error(u64, Error),
    /// `on_sent`.
    Sent(u64, u64),
    /// `on_acked`.
    Acked(u64, u64),
}

impl Event {
    /// Calls the matching handler method; answers true when the handler asked to pause reading
    /// the event's connection.
    pub fn deliver(self, h: &mut dyn Handler) -> Option<u64> {
        match self {
            Event::Connect(c) => h.on_connect(c),
            Event::Receive(c, d, k, _) => {
                if h.on_receive(c, &d, k) {
                    return Some(c);
                }
            }
            Event::Writable(c) => h.on_writable(c),
            Event::Close(c, code, r) => h.on_close(c, code, &r),
            Event::Error(c, e) => h.on_error(c, &e),
            Event::Sent(c, upto) => h.on_sent(c, upto),
            Event::Acked(c, upto) => h.on_acked(c, upto),
        }
        None
    }
}
