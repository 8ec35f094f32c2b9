//! Panics inside the library: the text of a caught panic, and which threads are running library
//! code, so that the process's panic hook can tell the library's panics (reported through the
//! log handler, never printed) from the host program's own (left to the hook it had before).

use std::any::Any;
use std::cell::Cell;

thread_local! {
    /// How many library scopes this thread is in (entry points can nest through callbacks).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as running library code until dropped: a panic meanwhile is the
/// library's. Held by every C entry point and for the whole life of an I/O thread.
pub struct Scope(());

impl Scope {
    /// Enters a library scope on this thread.
    pub fn enter() -> Scope {
        DEPTH.with(|d| d.set(d.get() + 1));
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Whether this thread is running library code (inside a `Scope`).
pub fn in_library() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// The text of a caught panic payload.
pub fn panic_text(panic: &Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_end() {
        assert!(!in_library());
        let a = Scope::enter();
        let b = Scope::enter();
        assert!(in_library());
        drop(b);
        assert!(in_library());
        drop(a);
        assert!(!in_library());
    }

    #[test]
    fn panic_text_reads_str_and_string_payloads() {
        let s = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_text(&s), "static");
        let n = 7;
        let f = std::panic::catch_unwind(|| panic!("formatted {n}")).unwrap_err();
        assert_eq!(panic_text(&f), "formatted 7");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(5u8)).unwrap_err();
        assert_eq!(panic_text(&other), "panic");
    }
}
