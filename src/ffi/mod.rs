//! The C API: the only code with `extern "C"`, raw pointers and `unsafe`. Every entry point checks
//! its arguments and runs its body under `catch_unwind` (see `errors::guard`).

pub mod context;
pub mod errors;
pub mod legacy;
pub mod log;
pub mod options;
pub mod types;

pub use context::*;
pub use errors::{ws_last_error, ws_strerror, ws_version};
pub use log::ws_set_log_handler;
pub use options::*;
pub use types::*;
