//! The sender's window on one connection: the data messages written to it and not yet
//! acknowledged, in the order written. The receiver numbers the connection's messages 1, 2, ...
//! in that same order, so an acknowledgement of N releases the front of the window up to the
//! N-th message written. What is still here when the connection ends is resent first on the
//! next one.
//!
//! Generic over what is kept so the rules (an acknowledgement beyond what was written, or going
//! backwards, is a protocol error) are tested without connections.

use std::collections::VecDeque;

/// Written, unacknowledged messages of one connection.
#[derive(Debug)]
pub struct Window<T> {
    kept: VecDeque<(T, usize)>,
    bytes: usize,
    /// Data messages written on this connection (the receiver's numbering).
    written: u64,
    /// Every message up to this one is acknowledged.
    acked: u64,
    max_messages: usize,
    max_bytes: usize,
    /// `bytes` as last published (see `published`).
    published: usize,
}

impl<T> Window<T> {
    /// An empty window that is full at `max_messages` messages or `max_bytes` bytes.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Window {
            kept: VecDeque::new(),
            bytes: 0,
            written: 0,
            acked: 0,
            max_messages: max_messages.max(1),
            max_bytes: max_bytes.max(1),
            published: 0,
        }
    }

    /// A message of `bytes` bytes was written completely: it is kept until acknowledged.
    pub fn written(&mut self, item: T, bytes: usize) {
        self.written += 1;
        self.bytes += bytes;
        self.kept.push_back((item, bytes));
    }

    /// The receiver acknowledged every message up to `n`: each newly acknowledged one is passed
    /// to `released`, in order. `n` beyond the messages written, or below an earlier
    /// acknowledgement, is a protocol error (nothing is released).
    pub fn ack(&mut self, n: u64, mut released: impl FnMut(T)) -> Result<(), &'static str> {
        if n > self.written {
            return Err("acknowledgement of a message that was never written");
        }
        if n < self.acked {
            return Err("acknowledgement going backwards");
        }
        while self.acked < n {
            let (item, b) = self.kept.pop_front().expect("kept = written - acked");
            self.bytes -= b;
            self.acked += 1;
            released(item);
        }
        Ok(())
    }

    /// Whether no more may be written while `in_flight` more messages of `in_flight_bytes`
    /// wait in the write batch.
    pub fn full(&self, in_flight: usize, in_flight_bytes: usize) -> bool {
        self.kept.len() + in_flight >= self.max_messages
            || self.bytes + in_flight_bytes >= self.max_bytes
    }

    /// Messages kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Bytes kept (counted in the memory budget).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bytes kept as last published and now, marking them published (for a total kept
    /// across windows).
    pub fn publish(&mut self) -> (usize, usize) {
        let before = self.published;
        self.published = self.bytes;
        (before, self.bytes)
    }

    /// Everything kept, in the order written (the connection ended: they are resent).
    pub fn take(&mut self) -> Vec<T> {
        self.bytes = 0;
        self.acked = self.written;
        self.kept.drain(..).map(|(t, _)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    fn acked(w: &mut Window<u32>, n: u64) -> Result<Vec<u32>, &'static str> {
        let mut out = Vec::new();
        w.ack(n, |x| out.push(x)).map(|_| out)
    }

    #[test]
    fn cumulative_acks_release_in_order() {
        let mut w = Window::new(10, 1000);
        for i in 1..=5 {
            w.written(i, 10);
        }
        assert_eq!(w.bytes(), 50);
        assert_eq!(acked(&mut w, 2), Ok(vec![1, 2]));
        assert_eq!(acked(&mut w, 2), Ok(vec![]), "a repeated ack is harmless");
        assert_eq!(acked(&mut w, 5), Ok(vec![3, 4, 5]));
        assert!(w.is_empty());
        assert_eq!(w.bytes(), 0);
    }

    #[test]
    fn beyond_what_was_written_and_backwards_are_errors() {
        let mut w = Window::new(10, 1000);
        w.written(1, 1);
        assert!(acked(&mut w, 2).is_err());
        assert!(acked(&mut w, u64::MAX).is_err());
        assert_eq!(w.len(), 1, "nothing released by a bad ack");
        assert_eq!(acked(&mut w, 1), Ok(vec![1]));
        assert!(acked(&mut w, 0).is_err());
    }

    #[test]
    fn full_by_count_or_bytes_including_the_batch() {
        let mut w = Window::new(3, 100);
        w.written(1, 10);
        assert!(!w.full(1, 10));
        assert!(w.full(2, 10), "1 kept + 2 in the batch = 3");
        assert!(w.full(0, 90), "10 kept + 90 in the batch = 100 bytes");
        w.written(2, 10);
        w.written(3, 10);
        assert!(w.full(0, 0));
        acked(&mut w, 1).unwrap();
        assert!(!w.full(0, 0));
    }

    #[test]
    fn take_hands_over_the_rest_and_numbering_goes_on() {
        let mut w = Window::new(10, 1000);
        for i in 1..=4 {
            w.written(i, 1);
        }
        acked(&mut w, 1).unwrap();
        assert_eq!(w.take(), vec![2, 3, 4]);
        assert_eq!(w.bytes(), 0);
        assert!(acked(&mut w, 4).is_ok(), "4 was written on this connection");
        assert!(acked(&mut w, 5).is_err());
    }
}
