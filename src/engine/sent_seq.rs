//! Client: which accepted messages are written. Every message `send` accepts gets the next
//! sequence number (1, 2, ...); the writer reports each message it wrote completely, and this
//! tracker answers the highest number up to which every message is written (what `on_sent`
//! and `messages_sent_seq` report).
//!
//! Separate because the number outlives connections (carry-over keeps it) and because senders
//! on several threads may queue in a different order than they drew their numbers: the tracker
//! then waits for the gap to be written instead of reporting past it.

use std::collections::BTreeSet;

/// The written prefix of the sequence numbers.
#[derive(Debug, Default)]
pub struct SentSeq {
    /// Every message numbered up to this one is written.
    upto: u64,
    /// Written messages above a gap (a concurrent sender's message queued behind a later one).
    ahead: BTreeSet<u64>,
}

impl SentSeq {
    /// Message `seq` is written completely (0, an unnumbered message, is ignored).
    #[inline]
    pub fn written(&mut self, seq: u64) {
        if seq == self.upto + 1 {
            self.upto = seq;
            // Nearly always empty: one sending thread, or threads that did not race.
            if !self.ahead.is_empty() {
                while self.ahead.first() == Some(&(self.upto + 1)) {
                    self.ahead.pop_first();
                    self.upto += 1;
                }
            }
        } else if seq > self.upto {
            self.ahead.insert(seq);
        }
    }

    /// Every message up to this number is written.
    pub fn upto(&self) -> u64 {
        self.upto
    }
}

#[cfg(test)]
mod tests {
    use super::SentSeq;

    #[test]
    fn in_order_advances_and_zero_is_ignored() {
        let mut s = SentSeq::default();
        s.written(1);
        s.written(2);
        assert_eq!(s.upto(), 2);
        s.written(0);
        assert_eq!(s.upto(), 2);
    }

    #[test]
    fn a_gap_holds_the_report_until_it_is_written() {
        let mut s = SentSeq::default();
        s.written(1);
        s.written(3);
        s.written(4);
        assert_eq!(s.upto(), 1);
        s.written(2);
        assert_eq!(s.upto(), 4);
        s.written(4);
        assert_eq!(s.upto(), 4);
    }
}
