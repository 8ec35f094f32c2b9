//! The log handlers: `ws_set_log_handler` routes the engine's diagnostics to a C function, and
//! `ws_options_set_log_handler` gives one context a handler of its own. With no handler set the
//! library prints nothing.

use std::ffi::CString;
use std::os::raw::c_void;

use super::errors::guard_value;
use super::options::with_options;
use super::types::{ws_log_fn, ws_log_level, ws_options, ws_status, RawLogLevel};
use crate::engine::log::{self, HandlerFn, Level, Target};

fn c_level(level: Level) -> ws_log_level {
    match level {
        Level::Error => ws_log_level::WS_LOG_ERROR,
        Level::Warn => ws_log_level::WS_LOG_WARN,
        Level::Info => ws_log_level::WS_LOG_INFO,
        Level::Debug => ws_log_level::WS_LOG_DEBUG,
    }
}

/// The minimum level of a C call: out of range is clamped (below ERROR to ERROR, above DEBUG to
/// DEBUG).
fn min_level(min: RawLogLevel) -> Level {
    match min {
        i32::MIN..=1 => Level::Error,
        2 => Level::Warn,
        3 => Level::Info,
        _ => Level::Debug,
    }
}

/// Wraps a C log function and its user pointer as an engine handler (None for NULL).
fn c_handler(fn_: ws_log_fn, user: *mut c_void) -> Option<HandlerFn> {
    let func = fn_?;
    let user = user as usize;
    Some(Box::new(move |level: Level, msg: &str| {
        let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        // Marked as a callback: ws_context_destroy is refused inside it (on an I/O thread it
        // would join itself) and ws_flush does not wait.
        super::callback::run(|| {
            // SAFETY: the application gave us this function and user pointer for this purpose.
            unsafe { func(c_level(level), text.as_ptr(), user as *mut c_void) }
        })
    }))
}

/// Sets the process-wide log handler: `fn` receives every diagnostic at `min` or more severe
/// (WS_LOG_ERROR is the most severe), from any thread, except what goes to a context's own
/// handler (`ws_options_set_log_handler`). NULL removes the handler. An out-of-range `min` is
/// clamped to WS_LOG_DEBUG. When this returns, the previous handler is not running on any other
/// thread and is not called again, so its `user` data may be freed. A handler may log again
/// (ws_api calls that log from inside it): those messages are delivered after it returns, never
/// recursively. It may call ws_set_log_handler itself (then only its own call may still be
/// running when that returns). Inside the handler, as inside a callback, ws_context_destroy is
/// refused and ws_flush does not wait.
#[no_mangle]
pub extern "C" fn ws_set_log_handler(fn_: ws_log_fn, user: *mut c_void, min: RawLogLevel) {
    guard_value((), || {
        log::set_handler(c_handler(fn_, user), min_level(min))
    })
}

/// Extension: gives contexts created from `o` a log handler of their own: `fn` receives, at
/// `min` or more severe, everything the context's I/O thread logs (its connections, handshakes,
/// reconnects, internal errors), and the global handler (`ws_set_log_handler`) no longer does.
/// Use it to tell two endpoints of one process apart. NULL `fn` goes back to the global handler
/// (the default). `user` is passed to every call; it must stay valid until the last context
/// created from `o` has been destroyed (no call happens after ws_context_destroy returns). The
/// same re-entrancy rules as ws_set_log_handler apply. An out-of-range `min` is clamped.
#[no_mangle]
pub extern "C" fn ws_options_set_log_handler(
    o: *mut ws_options,
    fn_: ws_log_fn,
    user: *mut c_void,
    min: RawLogLevel,
) -> ws_status {
    with_options(o, "ws_options_set_log_handler", |opts| {
        opts.config.log = c_handler(fn_, user).map(|h| Target::new(h, min_level(min)));
        Ok(())
    })
}
