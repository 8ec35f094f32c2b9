//! Diagnostics: one process-wide handler (set through the C API), and per context an optional
//! handler of its own that receives everything that context's I/O thread logs, so that two
//! endpoints in one process (two syslog-ng drivers) can be told apart. A cheap level check keeps
//! disabled messages at an atomic load, a thread-local read and no formatting.
//!
//! Re-entrancy: no lock is held while a handler runs. A handler may replace the global handler
//! (the change takes effect at once) and may log again: a message logged on a thread that is
//! already inside a handler is held and delivered right after that handler returns, in order
//! (at most `NESTED_MAX` per outermost message; more are dropped and counted in a final note),
//! so a handler that logs is never called recursively and never deadlocks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

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

/// Messages logged from inside a handler that are delivered after it returns, at most.
pub const NESTED_MAX: usize = 16;

/// A handler, its minimum level, and how many calls into it are under way (so that replacing
/// it can wait until the old one is no longer running).
pub struct Target {
    func: HandlerFn,
    min: Level,
    busy: Mutex<usize>,
    idle: Condvar,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target").field("min", &self.min).finish()
    }
}

impl Target {
    /// A handler that receives messages at `min` or more severe.
    pub fn new(func: HandlerFn, min: Level) -> Arc<Target> {
        Arc::new(Target {
            func,
            min,
            busy: Mutex::new(0),
            idle: Condvar::new(),
        })
    }

    fn wants(&self, level: Level) -> bool {
        level <= self.min
    }

    fn call(self: &Arc<Self>, level: Level, msg: &str) {
        /// Ends the call's bookkeeping even if the handler unwinds.
        struct Busy<'a>(&'a Target);
        impl Drop for Busy<'_> {
            fn drop(&mut self) {
                CALLING.with(|c| c.set(0));
                let mut n = self.0.busy.lock().unwrap_or_else(|e| e.into_inner());
                *n -= 1;
                if *n == 0 {
                    self.0.idle.notify_all();
                }
            }
        }
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        CALLING.with(|c| c.set(Arc::as_ptr(self) as usize));
        let _busy = Busy(self);
        (self.func)(level, msg);
    }

    /// Waits until no thread but this one is inside this handler.
    fn wait_idle(self: &Arc<Self>) {
        let mine = usize::from(CALLING.with(|c| c.get()) == Arc::as_ptr(self) as usize);
        let mut n = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *n > mine {
            n = self.idle.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }
}

static MIN: AtomicU8 = AtomicU8::new(0);
static HANDLER: RwLock<Option<Arc<Target>>> = RwLock::new(None);

thread_local! {
    /// The context handler of the I/O thread running on this thread, if it has one.
    static BOUND: RefCell<Option<Arc<Target>>> = const { RefCell::new(None) };
    /// Its minimum level, 0 when none is bound (read on every log site).
    static BOUND_MIN: Cell<u8> = const { Cell::new(0) };
    /// Whether this thread is delivering a message (inside a handler or its held messages).
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
    /// Messages logged from inside a handler on this thread, delivered after it returns.
    static HELD: RefCell<VecDeque<(Level, String)>> = const { RefCell::new(VecDeque::new()) };
    /// The handler this thread is calling now (its address), 0 for none.
    static CALLING: Cell<usize> = const { Cell::new(0) };
}

/// Installs (or with `None` removes) the global handler, passing messages at `min` or more
/// severe. When it returns the previous handler is no longer running on any other thread and is
/// never called again (called from inside that handler, this thread's own call goes on).
pub fn set_handler(handler: Option<HandlerFn>, min: Level) {
    let new = handler.map(|f| Target::new(f, min));
    let old = {
        let mut h = HANDLER.write().unwrap_or_else(|e| e.into_inner());
        MIN.store(if new.is_some() { min as u8 } else { 0 }, Ordering::Release);
        std::mem::replace(&mut *h, new)
    };
    if let Some(old) = old {
        old.wait_idle();
    }
}

/// Routes what this thread logs to `target` (a context's own handler) instead of the global
/// handler, until the returned guard is dropped. `None` changes nothing.
pub fn bind_thread(target: Option<Arc<Target>>) -> ThreadBinding {
    let prev_min = BOUND_MIN.with(|m| m.get());
    let prev = match target {
        Some(t) => {
            BOUND_MIN.with(|m| m.set(t.min as u8));
            BOUND.with(|b| b.replace(Some(t)))
        }
        None => BOUND.with(|b| b.borrow().clone()),
    };
    ThreadBinding { prev, prev_min }
}

/// Restores the thread's previous log routing when dropped; see `bind_thread`.
pub struct ThreadBinding {
    prev: Option<Arc<Target>>,
    prev_min: u8,
}

impl Drop for ThreadBinding {
    fn drop(&mut self) {
        BOUND_MIN.with(|m| m.set(self.prev_min));
        BOUND.with(|b| *b.borrow_mut() = self.prev.take());
    }
}

/// Whether a message at `level` logged on this thread would reach a handler.
pub fn enabled(level: Level) -> bool {
    let bound = BOUND_MIN.with(|m| m.get());
    let min = if bound != 0 {
        bound
    } else {
        MIN.load(Ordering::Acquire)
    };
    (level as u8) <= min
}

/// The handler a message logged on this thread goes to.
fn target() -> Option<Arc<Target>> {
    BOUND
        .with(|b| b.borrow().clone())
        .or_else(|| HANDLER.read().unwrap_or_else(|e| e.into_inner()).clone())
}

fn deliver(level: Level, msg: &str) {
    if let Some(t) = target() {
        if t.wants(level) {
            t.call(level, msg);
        }
    }
}

/// Sends a message to the handler of this thread's context, or else the global one, if it wants
/// this level. From inside a handler the message is held until that handler returns.
pub fn emit(level: Level, msg: &str) {
    if !enabled(level) {
        return;
    }
    if DELIVERING.with(|d| d.get()) {
        HELD.with(|h| h.borrow_mut().push_back((level, msg.to_string())));
        return;
    }
    /// Leaves delivery mode (and forgets what is still held) even if a handler unwinds.
    struct Delivering;
    impl Drop for Delivering {
        fn drop(&mut self) {
            HELD.with(|h| h.borrow_mut().clear());
            DELIVERING.with(|d| d.set(false));
        }
    }
    DELIVERING.with(|d| d.set(true));
    let _delivering = Delivering;
    deliver(level, msg);
    let mut nested = 0;
    let mut dropped = 0usize;
    while let Some((l, m)) = HELD.with(|h| h.borrow_mut().pop_front()) {
        if nested < NESTED_MAX {
            nested += 1;
            deliver(l, &m);
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        deliver(
            Level::Warn,
            &format!("{dropped} messages logged from inside the log handler were dropped"),
        );
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
