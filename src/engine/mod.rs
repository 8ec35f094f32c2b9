//! The engine: plain Rust, no C types. One I/O thread per context runs a mio loop over
//! non-blocking sockets; API calls from other threads reach it through lock-free queues and a
//! waker.

pub mod access;
mod backoff;
mod broadcast;
mod config;
mod conn;
mod context;
mod error;
mod event;
mod forwarded;
mod frame;
mod handshake;
mod io_loop;
pub mod log;
mod manual;
mod parser;
mod queue;
mod shared;
mod sink;
mod stats;
mod stream;
mod tls;

pub use config::{
    Config, Dispatch, Mode, SlowPolicy, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_QUEUE_CAPACITY,
};
pub use context::Context;
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, Handler, MsgKind};
pub use forwarded::TrustedProxies;
pub use stats::Snapshot;
