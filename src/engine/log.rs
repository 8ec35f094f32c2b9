//! Diagnostics: one process-wide handler (set through the C API) and a cheap level check so that
//! disabled messages cost an atomic load and no formatting.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::RwLock;

/// Severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something unusual that was handled.
    Warn = 2,
    /// Connection-level events.
    Info = 3,
    /// Detail.
    Debug = 4,
}

/// The function diagnostics go to.
pub type HandlerFn = Box<dyn Fn(Level, &str) + Send + Sync>;

static MIN: AtomicU8 = AtomicU8::new(0);
static HANDLER: RwLock<Option<HandlerFn>> = RwLock::new(None);

/// Installs (or with `None` removes) the handler, passing messages at `min` or more severe.
pub fn set_handler(handler: Option<HandlerFn>, min: Level) {
    let mut h = HANDLER.write().unwrap_or_else(|e| e.into_inner());
    let on = handler.is_some();
    *h = handler;
    MIN.store(if on { min as u8 } else { 0 }, Ordering::Release);
}

/// Whether a message at `level` would reach a handler.
pub fn enabled(level: Level) -> bool {
    (level as u8) <= MIN.load(Ordering::Acquire)
}

/// Sends a message to the handler, if one is set and wants this level.
pub fn emit(level: Level, msg: &str) {
    if !enabled(level) {
        return;
    }
    if let Some(h) = HANDLER.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        h(level, msg);
    }
}

/// Logs a formatted message at a level, formatting only when it will be seen.
#[macro_export]
macro_rules! ws_log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::engine::log::enabled($level) {
            $crate::engine::log::emit($level, &format!($($arg)*));
        }
    };
}
