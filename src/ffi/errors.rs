//! Status codes, the per-thread last error and the panic guard that every entry point runs in.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::types::{ws_status, RawStatus};
use crate::engine::panics::{self, panic_text};
use crate::engine::{log, Error, ErrorKind};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error (what `ws_last_error` answers).
pub fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The C status for an engine error kind.
pub fn status_of(kind: ErrorKind) -> ws_status {
    match kind {
        ErrorKind::InvalidArgument => ws_status::WS_ERR_INVALID_ARGUMENT,
        ErrorKind::QueueFull => ws_status::WS_ERR_QUEUE_FULL,
        ErrorKind::NotConnected => ws_status::WS_ERR_NOT_CONNECTED,
        ErrorKind::Closed => ws_status::WS_ERR_CLOSED,
        ErrorKind::TooLarge => ws_status::WS_ERR_TOO_LARGE,
        ErrorKind::Io => ws_status::WS_ERR_IO,
        ErrorKind::Tls => ws_status::WS_ERR_TLS,
        ErrorKind::Timeout => ws_status::WS_ERR_TIMEOUT,
        ErrorKind::Internal => ws_status::WS_ERR_INTERNAL,
    }
}

/// Records `err` as the last error and answers its status.
pub fn fail(err: &Error) -> ws_status {
    set_last_error(&err.message);
    status_of(err.kind)
}

/// Routes the library's panic messages to the log handler instead of stderr (the library never
/// prints); installed once, by the first entry point that could start engine work. The hook it
/// replaces is kept and still gets every panic that is not the library's (one on a thread that is
/// not inside a library scope: the host program's own), so a Rust host or a test harness keeps
/// its reports.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if panics::in_library() {
                log::emit(log::Level::Error, &format!("ws_api internal error: {info}"));
            } else {
                previous(info);
            }
        }))
    });
}

/// Runs an entry point's body: errors become a status plus `ws_last_error`, a panic becomes
/// `WS_ERR_INTERNAL` instead of unwinding into C.
pub fn guard(name: &str, body: impl FnOnce() -> Result<(), Error>) -> ws_status {
    let _ours = panics::Scope::enter();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ws_status::WS_OK,
        Ok(Err(e)) => fail(&e),
        Err(panic) => fail(&Error::new(
            ErrorKind::Internal,
            format!("{name}: internal error: {}", panic_text(&panic)),
        )),
    }
}

/// Like `guard` for entry points that answer a plain value; a panic answers `fallback`.
pub fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    let _ours = panics::Scope::enter();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

static STATUS_TEXT: [(ws_status, &CStr); 10] = [
    (ws_status::WS_OK, c"success"),
    (ws_status::WS_ERR_INVALID_ARGUMENT, c"invalid argument"),
    (ws_status::WS_ERR_QUEUE_FULL, c"queue full"),
    (ws_status::WS_ERR_NOT_CONNECTED, c"not connected"),
    (ws_status::WS_ERR_CLOSED, c"context is shutting down"),
    (ws_status::WS_ERR_TOO_LARGE, c"message too large"),
    (ws_status::WS_ERR_IO, c"I/O error"),
    (ws_status::WS_ERR_TLS, c"TLS error"),
    (ws_status::WS_ERR_TIMEOUT, c"timed out"),
    (ws_status::WS_ERR_INTERNAL, c"internal error"),
];

/// A static description of status `s` ("unknown status" for a value outside the enum).
#[no_mangle]
pub extern "C" fn ws_strerror(s: RawStatus) -> *const c_char {
    STATUS_TEXT
        .iter()
        .find(|(st, _)| *st as RawStatus == s)
        .map_or(c"unknown status".as_ptr(), |(_, text)| text.as_ptr())
}

/// The detailed message of the last failed call on this thread, "" if none. Valid until the
/// next failing call on the same thread.
#[no_mangle]
pub extern "C" fn ws_last_error() -> *const c_char {
    guard_value(c"".as_ptr(), || LAST_ERROR.with(|e| e.borrow().as_ptr()))
}

/// The library version, e.g. "1.2.0" (a static string).
#[no_mangle]
pub extern "C" fn ws_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}
