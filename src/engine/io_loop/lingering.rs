//! Lingering sockets: a server connection whose opening handshake failed (a TLS alert, an HTTP
//! refusal such as 403 or 503) has its answer written, its write side shut, and is then read
//! until EOF or a deadline before it is closed.
//!
//! Separate because these sockets are no longer connections (no events, no stats, no callbacks)
//! yet must outlive them: closing at once, with the peer's request unread, makes the kernel send
//! a reset that can overtake the refusal. The set is bounded so that refusals never cost more
//! than the connections they protect.

use std::collections::HashMap;
use std::io;
use std::time::Instant;

use crate::engine::conn::CLOSE_TIMEOUT;
use crate::engine::stream::Stream;

use super::IoLoop;

/// Sockets of failed handshakes kept lingering at most (beyond it they close at once).
const MAX_LINGERING: usize = 1024;

/// The lingering sockets by connection id, each with the moment it is closed at the latest.
/// Generic over the socket so that the deadline rules are tested without one.
pub(super) struct Lingering<S = Stream> {
    socks: HashMap<u64, (S, Instant)>,
}

impl<S> Default for Lingering<S> {
    fn default() -> Self {
        Lingering {
            socks: HashMap::new(),
        }
    }
}

impl<S> Lingering<S> {
    /// Whether another socket may linger (otherwise it is closed at once).
    pub(super) fn has_room(&self) -> bool {
        self.socks.len() < MAX_LINGERING
    }

    /// Whether `id` is a lingering socket (its events go to `drain`).
    pub(super) fn contains(&self, id: u64) -> bool {
        self.socks.contains_key(&id)
    }

    /// Starts lingering at `now`: the socket is closed `CLOSE_TIMEOUT` later at the latest.
    pub(super) fn insert(&mut self, id: u64, sock: S, now: Instant) {
        self.socks.insert(id, (sock, now + CLOSE_TIMEOUT));
    }

    /// The earliest deadline, for the poll timeout.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.socks.values().map(|(_, d)| *d).min()
    }

    /// The sockets whose deadline has come at `now`.
    pub(super) fn expired(&self, now: Instant) -> Vec<u64> {
        self.socks
            .iter()
            .filter(|(_, (_, d))| *d <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Reads and discards what socket `id` has with `read`; once it reaches EOF or an error,
    /// or has nothing to read at or after its deadline, it leaves the set and is returned to be
    /// deregistered and closed.
    pub(super) fn drain(
        &mut self,
        id: u64,
        now: Instant,
        mut read: impl FnMut(&mut S, &mut [u8]) -> io::Result<usize>,
    ) -> Option<S> {
        let (sock, deadline) = self.socks.get_mut(&id)?;
        let mut buf = [0u8; 4096];
        let done = loop {
            match read(sock, &mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break now >= *deadline,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break true,
            }
        };
        if done {
            self.socks.remove(&id).map(|(s, _)| s)
        } else {
            None
        }
    }
}

impl IoLoop {
    /// Lets the socket of failed server handshake `id` linger (see the module comment).
    pub(super) fn linger(&mut self, id: u64, mut stream: Stream) {
        stream.shutdown_write();
        self.lingering.insert(id, stream, Instant::now());
        self.drain_lingering(id);
    }

    /// Reads and discards what a lingering socket has; closes it at EOF, error or its deadline.
    pub(super) fn drain_lingering(&mut self, id: u64) {
        let done = self
            .lingering
            .drain(id, Instant::now(), |s, buf| io::Read::read(s.tcp(), buf));
        if let Some(mut s) = done {
            let _ = self.poll.registry().deregister(s.tcp());
        }
    }

    /// Closes the lingering sockets whose deadline has passed (unless they reached EOF by now).
    pub(super) fn expire_lingering(&mut self, now: Instant) {
        for id in self.lingering.expired(now) {
            self.drain_lingering(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::time::Duration;

    /// A socket that answers reads from a script, then "would block".
    #[derive(Debug, Default)]
    struct Script(VecDeque<io::Result<usize>>);

    fn script(reads: Vec<io::Result<usize>>) -> Script {
        Script(reads.into())
    }

    fn read(s: &mut Script, _: &mut [u8]) -> io::Result<usize> {
        s.0.pop_front()
            .unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    #[test]
    fn a_socket_lingers_until_its_deadline_while_the_peer_stays_silent() {
        let t0 = Instant::now();
        let mut l = Lingering::default();
        l.insert(1, script(vec![Ok(100)]), t0);
        assert_eq!(l.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
        assert!(l.drain(1, t0, read).is_none(), "read what came, then wait");
        assert!(l.contains(1));
        let before = t0 + CLOSE_TIMEOUT - Duration::from_millis(1);
        assert!(l.expired(before).is_empty());
        assert!(l.drain(1, before, read).is_none());
        assert_eq!(l.expired(t0 + CLOSE_TIMEOUT), vec![1]);
        assert!(l.drain(1, t0 + CLOSE_TIMEOUT, read).is_some());
        assert!(!l.contains(1));
        assert_eq!(l.next_deadline(), None);
    }

    #[test]
    fn eof_or_an_error_ends_lingering_before_the_deadline() {
        let t0 = Instant::now();
        let mut l = Lingering::default();
        let interrupted = Err(io::ErrorKind::Interrupted.into());
        l.insert(1, script(vec![Ok(10), interrupted, Ok(0)]), t0);
        l.insert(
            2,
            script(vec![Err(io::ErrorKind::ConnectionReset.into())]),
            t0,
        );
        assert!(
            l.drain(1, t0, read).is_some(),
            "EOF after an interrupted read"
        );
        assert!(l.drain(2, t0, read).is_some(), "reset by the peer");
        assert!(!l.contains(1) && !l.contains(2));
        assert!(l.drain(3, t0, read).is_none(), "unknown ids are ignored");
    }

    #[test]
    fn each_socket_keeps_its_own_deadline() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(500);
        let mut l = Lingering::default();
        l.insert(1, Script::default(), t0);
        l.insert(2, Script::default(), t1);
        assert_eq!(l.next_deadline(), Some(t0 + CLOSE_TIMEOUT));
        assert_eq!(l.expired(t0 + CLOSE_TIMEOUT), vec![1]);
        assert!(l.drain(1, t0 + CLOSE_TIMEOUT, read).is_some());
        assert_eq!(l.next_deadline(), Some(t1 + CLOSE_TIMEOUT));
        assert!(l.drain(2, t0 + CLOSE_TIMEOUT, read).is_none());
    }

    #[test]
    fn the_set_is_bounded() {
        let t0 = Instant::now();
        let mut l = Lingering::default();
        for id in 0..MAX_LINGERING as u64 {
            assert!(l.has_room());
            l.insert(id, Script::default(), t0);
        }
        assert!(!l.has_room());
        assert!(l.drain(0, t0 + CLOSE_TIMEOUT, read).is_some());
        assert!(l.has_room());
    }
}
