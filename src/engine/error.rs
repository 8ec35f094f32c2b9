//! The engine's error type: a kind that maps one-to-one onto the C status codes, plus a message
//! for `ws_last_error` and `on_error`.

use std::fmt;

/// What went wrong, in the categories the C API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A caller passed something unusable.
    InvalidArgument,
    /// Backpressure: nothing was queued.
    QueueFull,
    /// The connection is unknown or closed.
    NotConnected,
    /// The context is shutting down.
    Closed,
    /// A message is above the size limit.
    TooLarge,
    /// A socket-level failure.
    Io,
    /// A TLS failure.
    Tls,
    /// A wait ran out of time.
    Timeout,
    /// A bug (a caught panic).
    Internal,
}

/// An error with its kind and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The category.
    pub kind: ErrorKind,
    /// The detailed message.
    pub message: String,
}

impl Error {
    /// Makes an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// Shorthand for an `InvalidArgument` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// An `Io` error that names what was being done.
    pub fn io(what: &str, err: &std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{what}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Result with the engine's error.
pub type Result<T> = std::result::Result<T, Error>;
