//! The engine: plain Rust, no C types. One I/O thread per context runs a mio loop over
//! non-blocking sockets; API calls from other threads reach it through lock-free queues and a
//! waker.
//!
//! `unsafe` is denied here except in `sys` (the system calls std lacks, writes into spare
//! capacity), so that one file is the engine's whole unsafe surface.

#![deny(unsafe_code)]

pub mod access;
mod acks;
mod addresses;
mod backoff;
mod broadcast;
mod broadcast_deflate;
mod config;
mod conn;
mod context;
mod deflate;
mod direct;
mod error;
mod event;
mod forwarded;
mod frame;
mod frame_into;
mod handshake;
mod io_loop;
pub mod log;
mod manual;
pub mod panics;
mod parser;
mod proxy;
mod queue;
mod replay;
mod retention;
mod sent_seq;
mod shared;
mod sink;
mod stats;
mod stream;
#[allow(unsafe_code)]
mod sys;
mod tls;
mod utf8;

pub use acks::{AckMode, DEFAULT_ACK_WINDOW, MAX_ACK_WINDOW};
pub use config::{
    Config, Dispatch, Mode, SlowPolicy, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MESSAGE_TIMEOUT, DEFAULT_QUEUE_CAPACITY,
};
pub use context::Context;
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, Handler, MsgKind};
pub use forwarded::TrustedProxies;
pub use proxy::ProxyUrl;
pub use retention::{Retention, DEFAULT_REPLAY_BYTES};
pub use stats::Snapshot;
