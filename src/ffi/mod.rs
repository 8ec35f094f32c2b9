//! The C API: the only code with `extern "C"`. Every entry point checks its arguments and runs its
//! body under `catch_unwind` (see `errors::guard`). Raw pointers from C become Rust values only in
//! `ptr` (typed conversions, one way in and out per C type) and, for `ws_context`, in `handles`
//! (generation-numbered handles); the other `unsafe` here calls the application's function
//! pointers, and libc in the legacy layer. The engine's own `unsafe` is all in `engine/sys.rs`.
//!
//! The entry points are safe `extern "C"` functions called from C: the validity of the pointers
//! they receive is the C caller's documented obligation, checked for NULL here, so clippy's
//! `not_unsafe_ptr_arg_deref` does not apply to them.

#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod callback;
pub mod context;
pub mod errors;
pub mod handles;
pub mod handshake_request;
pub mod legacy;
pub mod log;
pub mod options;
pub mod ptr;
pub mod replay;
pub mod types;

pub use context::*;
pub use errors::{ws_last_error, ws_strerror, ws_version};
pub use handshake_request::*;
pub use log::{ws_options_set_log_handler, ws_set_log_handler};
pub use options::*;
pub use types::*;
