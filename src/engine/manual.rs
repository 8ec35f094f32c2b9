//! Manual dispatch: events wait in a queue until the application calls `dispatch`; an eventfd is
//! readable while any wait, so a foreign event loop can watch it. The queue is bounded: when the
//! application falls behind, the I/O thread stops reading sockets (TCP backpressure) instead of
//! buffering without limit.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::acks::receiver::RxAckTable;
use super::error::{Error, ErrorKind, Result};
use super::event::{Event, Handler};
use super::sys::EventFd;

/// Events held back above this count pause reading.
pub const BACKLOG_EVENTS: usize = 4096;
/// Bytes of held-back messages above which reading pauses.
pub const BACKLOG_BYTES: usize = 32 * 1024 * 1024;

/// The held events and the handler that `dispatch` runs them on.
pub struct ManualEvents {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    pending: AtomicUsize,
    pending_bytes: AtomicUsize,
    fd: EventFd,
    /// The application's handler.
    pub handler: Mutex<Option<Box<dyn Handler>>>,
    /// Set by the I/O thread when it held reading back because of the backlog.
    pub starving: AtomicBool,
}

impl ManualEvents {
    /// Creates the queue and its eventfd.
    pub fn new() -> Result<Self> {
        let fd = EventFd::new().map_err(|e| Error::io("eventfd", &e))?;
        let (tx, rx) = unbounded();
        Ok(ManualEvents {
            tx,
            rx,
            pending: AtomicUsize::new(0),
            pending_bytes: AtomicUsize::new(0),
            fd,
            handler: Mutex::new(None),
            starving: AtomicBool::new(false),
        })
    }

    /// The eventfd.
    pub fn fd(&self) -> RawFd {
        self.fd.fd()
    }

    fn signal(&self) {
        self.fd.signal();
    }

    fn clear_signal(&self) {
        self.fd.clear();
    }

    /// Holds an event (I/O thread).
    pub fn push(&self, ev: Event) {
        if let Event::Receive(_, d, _, _) = &ev {
            self.pending_bytes.fetch_add(d.len(), Ordering::SeqCst);
        }
        let _ = self.tx.send(ev);
        if self.pending.fetch_add(1, Ordering::SeqCst) == 0 {
            self.signal();
        }
    }

    /// Whether the I/O thread should stop reading until the application catches up.
    pub fn backlog_full(&self) -> bool {
        self.pending.load(Ordering::SeqCst) >= BACKLOG_EVENTS
            || self.pending_bytes.load(Ordering::SeqCst) >= BACKLOG_BYTES
    }

    /// Whether the backlog has come down enough to read again.
    pub fn backlog_low(&self) -> bool {
        self.pending.load(Ordering::SeqCst) < BACKLOG_EVENTS / 2
            && self.pending_bytes.load(Ordering::SeqCst) < BACKLOG_BYTES / 2
    }

    /// Runs up to `max` held events (0 = all) on this thread. Connections whose on_receive asked
    /// for a pause are passed to `pause`. A numbered message (acknowledgements) is announced to
    /// `acks` before its on_receive and reported delivered after it; `acked` is called when that
    /// made messages safe that the I/O thread must acknowledge.
    pub fn dispatch(
        &self,
        max: usize,
        mut pause: impl FnMut(u64),
        mut closed: impl FnMut(u64),
        acks: &RxAckTable,
        mut acked: impl FnMut(u64),
    ) -> Result<()> {
        let mut guard = match self.handler.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "ws_dispatch is already running (called from a callback or two threads)",
                ))
            }
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        };
        self.clear_signal();
        let mut done = 0;
        while max == 0 || done < max {
            let Ok(ev) = self.rx.try_recv() else { break };
            if let Event::Receive(_, d, _, _) = &ev {
                self.pending_bytes.fetch_sub(d.len(), Ordering::SeqCst);
            }
            self.pending.fetch_sub(1, Ordering::SeqCst);
            done += 1;
            let closed_id = match &ev {
                Event::Close(id, _, _) => Some(*id),
                _ => None,
            };
            if let Some(id) = closed_id {
                closed(id);
            }
            let numbered = match &ev {
                Event::Receive(id, _, _, seq) if *seq > 0 => acks.get(*id).map(|a| (*id, *seq, a)),
                _ => None,
            };
            if let Some((_, seq, a)) = &numbered {
                a.delivering(*seq);
            }
            if let Some(h) = guard.as_mut() {
                if let Some(conn) = ev.deliver(h.as_mut()) {
                    pause(conn);
                }
            }
            if let Some((id, seq, a)) = numbered {
                if a.delivered(seq, acks.mode()) {
                    acked(id);
                }
            }
        }
        if self.pending.load(Ordering::SeqCst) > 0 {
            self.signal();
        }
        Ok(())
    }

    /// Throws away what is held (at shutdown).
    pub fn discard(&self) {
        while self.rx.try_recv().is_ok() {}
        self.pending.store(0, Ordering::SeqCst);
        self.pending_bytes.store(0, Ordering::SeqCst);
        self.clear_signal();
    }
}
