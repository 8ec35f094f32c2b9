//! ws_api: a WebSocket engine with a C API.
//!
//! `engine` is plain Rust: one I/O thread per context running a mio loop over non-blocking
//! sockets. `ffi` is the C boundary (the contract in `include/ws_api.h`), and `ffi::legacy` the
//! 2016 functions of `include/ws_api/client.h` and `server.h`.

#![deny(missing_docs)]

pub mod engine;
pub mod ffi;
