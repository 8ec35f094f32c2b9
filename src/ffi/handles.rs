//! Context handles: what a `ws_context *` really is.
//!
//! A `ws_context *` is not the address of anything: it is an opaque number encoding a slot of a
//! process-wide table and the generation of that slot (`generation << SLOT_BITS | slot`). A slot
//! holds the context of its current generation. So:
//! - while `ws_context_destroy` shuts a context down, the context stays in its slot, marked
//!   closing: calls from other threads still find it and the engine answers `WS_ERR_CLOSED` to
//!   what it no longer takes. Each call completes or answers `WS_ERR_CLOSED`;
//! - the slot is then closed to new calls, destroy waits for the calls already inside (none of
//!   them blocks) and only then lets the context go: no call ever touches freed memory;
//! - once destroy has returned, the slot is empty or holds a later generation, so a stale handle
//!   answers `WS_ERR_INVALID_ARGUMENT`, even when a new context reuses the slot. A slot whose
//!   generations are used up is retired, never reused, so a handle never names two contexts.
//!
//! The lookup is on the hot path of `ws_send` (millions of calls a second), so it takes no lock:
//! a slot's state is one atomic word holding its generation, a "removed" bit and the count of
//! calls inside. Entering is one compare-and-swap that succeeds only for the live generation,
//! leaving one subtraction (measured: about as much as an uncontended read lock, half of a read
//! lock plus an `Arc` clone). A call that refuses a stale handle writes nothing, so callers
//! hammering a dead handle cannot keep destroy waiting; the last call out of a slot being
//! emptied wakes the destroy. The calls that may wait (`ws_flush`,
//! `ws_dispatch`) take an `Arc` instead and leave at once, so destroy never waits for them. The
//! table is a fixed array of lazily allocated chunks that are never freed; a global mutex guards
//! only the free list (create and destroy).

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::types::ws_context;
use crate::engine::{Context, Error, ErrorKind};

/// Bits of a handle that name the slot; the rest is the generation (never 0, so no handle is
/// NULL).
const SLOT_BITS: u32 = 16;
/// Slots per lazily allocated chunk.
const CHUNK_BITS: u32 = 8;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
const CHUNKS: usize = 1 << (SLOT_BITS - CHUNK_BITS);
/// Most contexts alive at once (each has an I/O thread; far more than any process runs).
pub const MAX_CONTEXTS: usize = 1 << SLOT_BITS;

/// A slot's state word: the calls inside (low bits), the removed bit, the generation above.
const COUNT_BITS: u32 = 20;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const REMOVED: u64 = 1 << COUNT_BITS;
const GEN_SHIFT: u32 = COUNT_BITS + 1;
/// The last generation a slot may take (it must fit both the state word and a handle); then the
/// slot is retired.
const MAX_GENERATION: u64 = {
    let in_state = u64::MAX >> GEN_SHIFT;
    let in_handle = (usize::MAX >> SLOT_BITS) as u64;
    if in_state < in_handle {
        in_state
    } else {
        in_handle
    }
};

/// A live context and the handle that names it.
pub struct Live {
    handle: usize,
    /// Set by the destroy that owns the teardown; a second destroy answers WS_ERR_CLOSED.
    closing: AtomicBool,
    ctx: Context,
}

impl Live {
    /// The engine context.
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The handle, as C sees it.
    pub fn handle(&self) -> *mut ws_context {
        self.handle as *mut ws_context
    }
}

#[derive(Default)]
struct Slot {
    /// Generation, removed bit and calls inside (see COUNT_BITS).
    state: AtomicU64,
    /// The context of the current generation, from `Arc::into_raw` (the slot owns that strong
    /// reference), or NULL. Read only by calls inside (which keep it from being taken).
    live: AtomicPtr<Live>,
    /// The generation the next context in this slot gets (used under FREE's lock).
    next_gen: AtomicU64,
}

type Chunk = [Slot; CHUNK_LEN];

static TABLE: [AtomicPtr<Chunk>; CHUNKS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS];

/// Slots released by destroy, oldest first (so a slot's generation grows slowly), and how many
/// slots were ever handed out.
struct Free {
    released: VecDeque<usize>,
    used: usize,
}

static FREE: Mutex<Free> = Mutex::new(Free {
    released: VecDeque::new(),
    used: 0,
});

/// Where `remove` waits for the calls still inside a slot, and what the last of them signals.
static REMOVING: Mutex<()> = Mutex::new(());
static LEFT: Condvar = Condvar::new();

fn slot(index: usize) -> Option<&'static Slot> {
    let chunk = TABLE.get(index >> CHUNK_BITS)?.load(Ordering::Acquire);
    // SAFETY: a non-NULL chunk pointer was published by `slot_or_alloc` from a leaked Box and is
    // never freed or replaced.
    (!chunk.is_null()).then(|| unsafe { &(*chunk)[index & (CHUNK_LEN - 1)] })
}

/// The slot `index`, allocating its chunk on first use (under FREE's lock).
fn slot_or_alloc(index: usize) -> &'static Slot {
    let cell = &TABLE[index >> CHUNK_BITS];
    if cell.load(Ordering::Acquire).is_null() {
        let chunk: Box<Chunk> = Box::new(std::array::from_fn(|_| Slot::default()));
        cell.store(Box::into_raw(chunk), Ordering::Release);
    }
    slot(index).expect("chunk just published")
}

fn free_list() -> std::sync::MutexGuard<'static, Free> {
    FREE.lock().unwrap_or_else(|e| e.into_inner())
}

fn not_live(name: &str) -> Error {
    Error::invalid(format!(
        "{name}: not a live context (never created, or already destroyed)"
    ))
}

/// Publishes `ctx` under a new handle. Fails only when MAX_CONTEXTS are alive.
pub fn insert(ctx: Context) -> Result<Arc<Live>, Error> {
    let mut free = free_list();
    let index = match free.released.pop_front() {
        Some(i) => i,
        None if free.used < MAX_CONTEXTS => {
            free.used += 1;
            free.used - 1
        }
        None => {
            return Err(Error::new(
                ErrorKind::Io,
                format!("too many contexts (at most {MAX_CONTEXTS} at once)"),
            ))
        }
    };
    let s = slot_or_alloc(index);
    let gen = s.next_gen.load(Ordering::Relaxed).max(1);
    s.next_gen.store(gen + 1, Ordering::Relaxed);
    let live = Arc::new(Live {
        handle: (gen as usize) << SLOT_BITS | index,
        closing: AtomicBool::new(false),
        ctx,
    });
    s.live
        .store(Arc::into_raw(live.clone()) as *mut Live, Ordering::Release);
    // Opens the slot to calls of this generation (none are inside: it was removed or new).
    s.state.store(gen << GEN_SHIFT, Ordering::Release);
    Ok(live)
}

/// A call inside a slot: the context cannot be taken away until it is dropped. Held for the
/// length of one call that does not block.
pub struct Held {
    slot: &'static Slot,
    live: *const Live,
}

impl Deref for Held {
    type Target = Live;

    fn deref(&self) -> &Live {
        // SAFETY: `live` was the slot's context when this call entered; `remove` waits for every
        // call inside before it drops the slot's reference, so it is alive until `self` drops.
        unsafe { &*self.live }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let before = self.slot.state.fetch_sub(1, Ordering::Release);
        if before & REMOVED != 0 && before & COUNT_MASK == 1 {
            // The last call out of a slot that a destroy is emptying: wake it (rare path).
            let _g = REMOVING.lock().unwrap_or_else(|e| e.into_inner());
            LEFT.notify_all();
        }
    }
}

/// Enters the slot of handle `c` if it names the live generation; a NULL, stale or made-up
/// handle answers `InvalidArgument` naming `name`, without writing anything.
#[inline]
fn enter(c: *const ws_context, name: &str) -> Result<Held, Error> {
    let h = c as usize;
    if h == 0 {
        return Err(Error::invalid(format!("{name}: context is NULL")));
    }
    let s = slot(h & (MAX_CONTEXTS - 1)).ok_or_else(|| not_live(name))?;
    let gen = (h >> SLOT_BITS) as u64;
    let mut cur = s.state.load(Ordering::Acquire);
    loop {
        if cur >> GEN_SHIFT != gen || cur & REMOVED != 0 || cur & COUNT_MASK == COUNT_MASK {
            return Err(not_live(name));
        }
        match s
            .state
            .compare_exchange_weak(cur, cur + 1, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => break,
            Err(now) => cur = now,
        }
    }
    Ok(Held {
        slot: s,
        live: s.live.load(Ordering::Acquire),
    })
}

/// The live context named by `c`, for the length of one call that does not block.
#[inline]
pub fn get(c: *const ws_context, name: &str) -> Result<Held, Error> {
    enter(c, name)
}

/// The live context named by `c`, for a call that may wait (ws_flush, ws_dispatch): a reference
/// of its own, so destroy never waits for it; the context is freed when the last one drops.
pub fn get_owned(c: *const ws_context, name: &str) -> Result<Arc<Live>, Error> {
    let held = enter(c, name)?;
    // SAFETY: `held.live` came from Arc::into_raw and is alive while `held` is inside.
    unsafe {
        Arc::increment_strong_count(held.live);
        Ok(Arc::from_raw(held.live))
    }
}

/// Starts destroying the context named by `c`: answers it, marked closing, for the caller to
/// shut down and then pass to [`remove`]. It stays in its slot meanwhile, so calls from other
/// threads still find it (and the engine answers WS_ERR_CLOSED). `refuse` runs before anything
/// changes; its error is answered as is.
pub fn begin_destroy(
    c: *const ws_context,
    name: &str,
    refuse: impl FnOnce(&Context) -> Result<(), Error>,
) -> Result<Arc<Live>, Error> {
    let live = get_owned(c, name)?;
    refuse(&live.ctx)?;
    if live.closing.swap(true, Ordering::AcqRel) {
        return Err(Error::new(
            ErrorKind::Closed,
            format!("{name}: the context is being destroyed by another call"),
        ));
    }
    Ok(live)
}

/// Ends a destroy: closes the slot to new calls (from now on the handle answers
/// InvalidArgument), waits for the calls inside (none of them blocks), drops the slot's reference and frees the slot for a later generation.
/// The context itself is freed when the last reference (the caller's, or a waiting call's)
/// drops.
pub fn remove(live: &Live) {
    let index = live.handle & (MAX_CONTEXTS - 1);
    let Some(s) = slot(index) else { return };
    let gen = (live.handle >> SLOT_BITS) as u64;
    let before = s.state.fetch_or(REMOVED, Ordering::AcqRel);
    if before >> GEN_SHIFT != gen || before & REMOVED != 0 {
        return; // not this context's slot any more (cannot happen: one remove per context)
    }
    {
        // Blocks rather than spins: a spinning waiter can keep the calls it waits for off the
        // CPU (valgrind's scheduler, overloaded machines). Checked under REMOVING, which the
        // last call out takes before notifying, so the wake-up cannot be missed.
        let mut g = REMOVING.lock().unwrap_or_else(|e| e.into_inner());
        while s.state.load(Ordering::Acquire) & COUNT_MASK != 0 {
            g = LEFT.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
    let p = s.live.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if !p.is_null() {
        // SAFETY: the slot's reference, from Arc::into_raw in insert; no call is inside and
        // none can enter any more, so nobody reads the pointer again.
        drop(unsafe { Arc::from_raw(p) });
    }
    let mut free = free_list();
    if s.next_gen.load(Ordering::Relaxed) <= MAX_GENERATION {
        free.released.push_back(index);
    }
}

/// Whether `c` names a live context (not yet fully destroyed).
pub fn is_live(c: *const ws_context) -> bool {
    enter(c, "").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Config, Mode};

    fn server() -> Context {
        let mut cfg = Config::new(Mode::Server);
        cfg.address = "127.0.0.1".into();
        cfg.port = 0;
        Context::create(cfg).unwrap()
    }

    #[test]
    fn stale_handle_never_names_the_slots_next_context() {
        let a = insert(server()).unwrap();
        let ha = a.handle();
        assert!(!ha.is_null());
        let got = begin_destroy(ha, "t", |_| Ok(())).unwrap();
        // A second destroy while the first runs: closed, and the context is still found.
        assert_eq!(
            begin_destroy(ha, "t", |_| Ok(())).err().unwrap().kind,
            ErrorKind::Closed
        );
        assert!(is_live(ha));
        remove(&got);
        drop((a, got));
        assert!(!is_live(ha));
        // Many new contexts: none gets the old handle, the old handle stays dead.
        let mut made = Vec::new();
        for _ in 0..4 {
            let b = insert(server()).unwrap();
            assert_ne!(b.handle(), ha);
            assert!(!is_live(ha));
            made.push(b);
        }
        for b in made {
            remove(&b);
        }
    }

    #[test]
    fn values_that_were_never_handles_are_refused() {
        for v in [1usize, 0xffff, usize::MAX, 0x5555_5555_0000] {
            assert_eq!(
                get(v as *const ws_context, "t").err().unwrap().kind,
                ErrorKind::InvalidArgument
            );
        }
        assert!(get(std::ptr::null(), "t")
            .err()
            .unwrap()
            .message
            .contains("NULL"));
    }
}
