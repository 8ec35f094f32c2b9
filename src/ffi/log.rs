//! `ws_set_log_handler`: routes the engine's diagnostics to a C function. With no handler set the
//! library prints nothing.

use std::ffi::CString;
use std::os::raw::c_void;

use super::errors::guard_value;
use super::ptr::UserPtr;
use super::types::{ws_log_fn, ws_log_level, RawLogLevel};
use crate::engine::log::{self, Level};

struct CHandler {
    func: unsafe extern "C" fn(ws_log_level, *const std::os::raw::c_char, *mut c_void),
    user: UserPtr,
}

fn c_level(level: Level) -> ws_log_level {
    match level {
        Level::Error => ws_log_level::WS_LOG_ERROR,
        Level::Warn => ws_log_level::WS_LOG_WARN,
        Level::Info => ws_log_level::WS_LOG_INFO,
        Level::Debug => ws_log_level::WS_LOG_DEBUG,
    }
}

/// Sets the process-wide log handler: `fn` receives every diagnostic at `min` or more severe
/// (WS_LOG_ERROR is the most severe), from any thread. NULL removes the handler. An out-of-range
/// `min` is clamped to WS_LOG_DEBUG. The handler must not call ws_set_log_handler itself. Inside
/// the handler, as inside a callback, ws_context_destroy is refused and ws_flush does not wait.
#[no_mangle]
pub extern "C" fn ws_set_log_handler(fn_: ws_log_fn, user: *mut c_void, min: RawLogLevel) {
    guard_value((), || {
        let min = match min {
            i32::MIN..=1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            _ => Level::Debug,
        };
        match fn_ {
            None => log::set_handler(None, min),
            Some(func) => {
                let h = CHandler {
                    func,
                    user: UserPtr::new(user),
                };
                log::set_handler(
                    Some(Box::new(move |level: Level, msg: &str| {
                        let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
                        // Marked as a callback: ws_context_destroy is refused inside it (on an
                        // I/O thread it would join itself) and ws_flush does not wait.
                        super::callback::run(|| {
                            // SAFETY: the application gave us this function and user pointer for
                            // this purpose.
                            unsafe { (h.func)(c_level(level), text.as_ptr(), h.user.get()) }
                        })
                    })),
                    min,
                )
            }
        }
    })
}
