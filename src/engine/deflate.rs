//! permessage-deflate (RFC 7692): what a connection agreed on, and the codecs that carry it out.
//!
//! - `negotiate`: the `Sec-WebSocket-Extensions` header, both sides (the client's offer and its
//!   check of the answer, the server's choice among the offers and its answer);
//! - `codec`: compressing a whole message (`Deflater`) and inflating one incrementally within
//!   `max_message_size` (`Inflater`).
//!
//! The engine's choices (docs/compression.md says why):
//! - a server always answers `server_no_context_takeover`: every message it sends is compressed
//!   on its own, so one compressed broadcast frame is valid for every deflate subscriber and the
//!   server keeps no compression state per connection;
//! - a server that was asked for `server_max_window_bits` below 15 sends its messages
//!   uncompressed (allowed: RSV1 is per message), and still inflates what the client sends;
//! - a client offers two alternatives, `permessage-deflate; client_max_window_bits` (context
//!   takeover: the better ratio for a stream of similar log lines) and then the same with
//!   `client_no_context_takeover`, for servers that want it;
//! - window bits 8: zlib cannot produce raw deflate with a 256-byte window; a side asked to
//!   compress with 8 sends uncompressed messages, which RFC 7692 allows, and inflating always
//!   uses a 32 KiB window, which reads data made with any smaller one.

pub mod codec;
pub mod negotiate;

pub use codec::{Deflater, Inflater};
pub use negotiate::Agreed;
