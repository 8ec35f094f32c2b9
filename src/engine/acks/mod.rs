//! End-to-end acknowledgements (docs/acks.md): a client that offers them (`WS-API-Ack: 1` in its
//! request) and a server that accepts them (the same header in its 101) agree that the server
//! numbers the client's data messages of the connection 1, 2, 3, ... and tells the client, with
//! unsolicited pongs whose payload is `ack <N>`, that every message up to N is safe. The client
//! keeps what it wrote until then and resends it on its next connection.
//!
//! - `wire`: the header and the pong payload (the whole protocol, in one place);
//! - `window`: the sender's written-but-unacknowledged messages of one connection;
//! - `receiver`: the receiver's per-connection numbers, shared with the API threads that call
//!   `ws_acknowledge`.
//!
//! The connection's side (what a pong does, when an acknowledgement is sent) is
//! `conn/acking.rs`.

use std::time::Duration;

pub mod receiver;
pub mod window;
pub mod wire;

/// Whether acknowledgements are on, and who decides that a received message is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Never offered nor accepted (the default): the connection works as without this feature.
    Off,
    /// Server: a message is acknowledged once its on_receive returned. Client: offer
    /// acknowledgements and keep what is written until it is acknowledged.
    Auto,
    /// Server: the application acknowledges with `Context::acknowledge`. Client: as `Auto`.
    Manual,
}

/// Default sender window: messages written and not yet acknowledged, at most.
pub const DEFAULT_ACK_WINDOW: usize = 1024;
/// Largest window accepted.
pub const MAX_ACK_WINDOW: usize = 1 << 20;
/// The receiver acknowledges at once when this many safe messages wait for an acknowledgement.
pub const ACK_EVERY: u64 = 256;
/// Otherwise at most this long after the last acknowledgement (or at once when the connection
/// has nothing more to read and every message it received is safe, so a sender whose window is
/// full never waits for the timer).
pub const ACK_DELAY: Duration = Duration::from_millis(5);
