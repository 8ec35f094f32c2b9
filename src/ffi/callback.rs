//! Which application code is running on this thread: a callback of any context or the log
//! handler. Inside one, `ws_context_destroy` is refused (it would join the I/O thread the code
//! runs on, or free a context under a callback that is using it) and `ws_flush` does not wait
//! (the I/O thread it would wait for is the one running the code).

use std::cell::Cell;

thread_local! {
    /// Depth of application code running on this thread, called by the library.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a callback or the log handler is running on this thread.
pub fn in_callback() -> bool {
    DEPTH.with(|d| d.get()) > 0
}

/// Runs `f` (which calls the application) marked as a callback.
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let _depth = Depth;
    f()
}
