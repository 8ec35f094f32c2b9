//! The receiver's numbers, per connection that negotiated acknowledgements: which message is
//! being delivered (the application reads it inside on_receive) and up to which one the
//! application says messages are safe. Shared between the I/O thread (which numbers messages
//! and sends the acknowledgements), the thread that delivers them (the I/O thread, or the one
//! calling `dispatch`) and any thread calling `Context::acknowledge`.
//!
//! The receiver keeps no copy of a message: a connection costs two counters here whatever the
//! application does, so an application that never acknowledges holds nothing but the sender's
//! window (which stops the sender).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::AckMode;
use crate::engine::error::{Error, Result};

/// The numbers of one connection.
#[derive(Debug, Default)]
pub struct RxAck {
    /// The number of the message being (or last) delivered to on_receive.
    delivered: AtomicU64,
    /// Every message up to this one is safe: the acknowledgement owed to the sender.
    safe: AtomicU64,
    /// Set when `safe` grew and the I/O thread has not looked yet (one wake-up per batch), and
    /// held set in manual mode while an acknowledgement waits for its batch timer (the timer
    /// looks anyway: `Conn::ack_round`).
    pub notified: AtomicBool,
}

impl RxAck {
    /// Every message up to this one is safe.
    pub fn safe(&self) -> u64 {
        self.safe.load(Ordering::Acquire)
    }

    /// Message `seq` is about to be delivered (on the delivering thread).
    pub fn delivering(&self, seq: u64) {
        self.delivered.store(seq, Ordering::Release);
    }

    /// Message `seq` was delivered (its on_receive returned): in `Auto` mode it is safe now.
    /// Answers whether the I/O thread must be told (only when it is not the caller).
    pub fn delivered(&self, seq: u64, mode: AckMode) -> bool {
        mode == AckMode::Auto && raise(self, seq)
    }
}

/// Raises `safe` to `seq`; answers whether the I/O thread must be woken for it.
fn raise(a: &RxAck, seq: u64) -> bool {
    let before = a.safe.fetch_max(seq, Ordering::AcqRel);
    seq > before && !a.notified.swap(true, Ordering::AcqRel)
}

/// The numbers of every connection that negotiated acknowledgements, from its opening until its
/// on_close is called.
#[derive(Debug)]
pub struct RxAckTable {
    mode: AckMode,
    conns: Mutex<HashMap<u64, Arc<RxAck>>>,
}

impl RxAckTable {
    /// An empty table for a context in `mode`.
    pub fn new(mode: AckMode) -> Self {
        RxAckTable {
            mode,
            conns: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<RxAck>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connection `conn` opened with acknowledgements.
    pub fn opened(&self, conn: u64) -> Arc<RxAck> {
        let a = Arc::new(RxAck::default());
        self.lock().insert(conn, a.clone());
        a
    }

    /// Its on_close is being called: its numbers are gone.
    pub fn closed(&self, conn: u64) {
        if self.mode != AckMode::Off {
            self.lock().remove(&conn);
        }
    }

    /// The mode of the context.
    pub fn mode(&self) -> AckMode {
        self.mode
    }

    /// The numbers of `conn`, if it negotiated acknowledgements and its on_close was not
    /// called yet (manual dispatch looks them up once per message it delivers).
    pub fn get(&self, conn: u64) -> Option<Arc<RxAck>> {
        self.lock().get(&conn).cloned()
    }

    /// The number of the message being (or last) delivered on `conn`; 0 before the first, and
    /// always 0 on a connection without acknowledgements.
    pub fn received_seq(&self, conn: u64) -> u64 {
        self.get(conn)
            .map_or(0, |a| a.delivered.load(Ordering::Acquire))
    }

    /// The application says every message of `conn` up to `seq` is safe. Answers whether the
    /// I/O thread must be told. `seq` beyond the last delivered message is refused; 0 and
    /// numbers already acknowledged are accepted and change nothing.
    pub fn acknowledge(&self, conn: u64, seq: u64) -> Result<bool> {
        if seq == 0 {
            return Ok(false);
        }
        let a = self.get(conn).ok_or_else(|| {
            Error::invalid(format!(
                "ws_acknowledge: connection {conn} has no message {seq}: it is not open, or it \
                 did not negotiate acknowledgements"
            ))
        })?;
        let delivered = a.delivered.load(Ordering::Acquire);
        if seq > delivered {
            return Err(Error::invalid(format!(
                "ws_acknowledge: connection {conn} received messages up to {delivered}, not {seq}"
            )));
        }
        // Once per batch, and whenever everything delivered is safe: the sender may be waiting
        // for exactly that, while `notified` may be held by a deferred acknowledgement whose
        // timer is up to ACK_DELAY away.
        let before = a.safe.fetch_max(seq, Ordering::AcqRel);
        let first = seq > before && !a.notified.swap(true, Ordering::AcqRel);
        Ok(first || (seq > before && seq == delivered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_acknowledgement_is_bounded_by_what_was_delivered() {
        let t = RxAckTable::new(AckMode::Manual);
        let a = t.opened(7);
        assert_eq!(t.received_seq(7), 0);
        assert!(t.acknowledge(7, 1).is_err(), "nothing delivered yet");
        assert_eq!(t.acknowledge(7, 0).ok(), Some(false));
        a.delivering(1);
        a.delivering(2);
        assert!(
            !a.delivered(2, t.mode()),
            "manual: delivery acknowledges nothing"
        );
        assert_eq!(t.received_seq(7), 2);
        assert!(t.acknowledge(7, 3).is_err());
        assert_eq!(t.acknowledge(7, 2).ok(), Some(true));
        assert_eq!(a.safe(), 2);
        assert_eq!(t.acknowledge(7, 1).ok(), Some(false), "already covered");
        assert_eq!(a.safe(), 2, "never goes back");
        t.closed(7);
        assert!(t.acknowledge(7, 1).is_err(), "closed");
        assert_eq!(t.acknowledge(7, 0).ok(), Some(false));
        assert!(t.acknowledge(8, 1).is_err(), "unknown");
    }

    #[test]
    fn auto_acknowledges_on_delivery_and_wakes_once_per_batch() {
        let t = RxAckTable::new(AckMode::Auto);
        let a = t.opened(1);
        a.delivering(1);
        assert!(a.delivered(1, t.mode()));
        a.delivering(2);
        assert!(!a.delivered(2, t.mode()), "the I/O thread was already told");
        assert_eq!(a.safe(), 2);
        assert_eq!(t.received_seq(1), 2);
        a.notified.store(false, Ordering::Release);
        a.delivering(3);
        assert!(a.delivered(3, t.mode()));
    }
}
