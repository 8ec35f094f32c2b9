//! A client's server addresses: a host name may resolve to several (IPv6 and IPv4 for
//! "localhost"). Each is tried in turn, at once after the previous one failed; only when every
//! address has failed does the backoff delay apply, and the name is resolved again for the next
//! round (its addresses may have changed).

use std::io;
use std::net::SocketAddr;

/// The addresses of the current round and which one to try next.
#[derive(Debug, Default)]
pub struct Addresses {
    list: Vec<SocketAddr>,
    next: usize,
}

impl Addresses {
    /// The next address to try. At the start of a round (first attempt, after `restart`, or
    /// once every address was tried) the name is resolved again with `resolve`.
    pub fn next(
        &mut self,
        resolve: impl FnOnce() -> io::Result<Vec<SocketAddr>>,
    ) -> io::Result<Option<SocketAddr>> {
        if self.next >= self.list.len() {
            self.list = resolve()?;
            self.next = 0;
        }
        let addr = self.list.get(self.next).copied();
        self.next += 1;
        Ok(addr)
    }

    /// Whether this round has an address not tried yet: after a failed attempt, try it now
    /// rather than after the backoff delay.
    pub fn untried_left(&self) -> bool {
        self.next < self.list.len()
    }

    /// Ends the round: the next attempt resolves the name again and starts from its first
    /// address (after a connection that opened and later closed, or when every address failed).
    pub fn restart(&mut self) {
        self.next = usize::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_address_is_tried_in_order_then_the_name_is_resolved_again() {
        let first = vec![addr("[::1]:9"), addr("127.0.0.1:9")];
        let second = vec![addr("127.0.0.2:9")];
        let mut resolved = 0;
        let mut a = Addresses::default();
        let mut next = |a: &mut Addresses| {
            a.next(|| {
                resolved += 1;
                Ok(if resolved == 1 {
                    first.clone()
                } else {
                    second.clone()
                })
            })
            .unwrap()
        };
        assert_eq!(next(&mut a), Some(first[0]));
        assert!(a.untried_left(), "127.0.0.1 is left: try it at once");
        assert_eq!(next(&mut a), Some(first[1]));
        assert!(!a.untried_left(), "all failed: the backoff applies");
        a.restart();
        assert_eq!(next(&mut a), Some(second[0]));
        assert!(!a.untried_left());
        // Without restart, a finished round also resolves again.
        assert_eq!(next(&mut a), Some(second[0]));
        assert_eq!(resolved, 3);
    }

    #[test]
    fn restart_after_a_connection_goes_back_to_the_first_address() {
        let list = vec![addr("[::1]:9"), addr("127.0.0.1:9"), addr("127.0.0.3:9")];
        let mut a = Addresses::default();
        assert_eq!(a.next(|| Ok(list.clone())).unwrap(), Some(list[0]));
        assert_eq!(a.next(|| Ok(list.clone())).unwrap(), Some(list[1]));
        // The second address connected; when that connection ends, a new round begins.
        a.restart();
        assert!(!a.untried_left());
        assert_eq!(a.next(|| Ok(list.clone())).unwrap(), Some(list[0]));
    }

    #[test]
    fn a_name_with_no_address_or_a_failed_resolution_is_reported() {
        let mut a = Addresses::default();
        assert_eq!(a.next(|| Ok(Vec::new())).unwrap(), None);
        assert!(!a.untried_left());
        let err = a
            .next(|| Err(io::Error::new(io::ErrorKind::NotFound, "no such host")))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // A later resolution that works starts a normal round.
        let one = vec![addr("127.0.0.1:9")];
        assert_eq!(a.next(|| Ok(one.clone())).unwrap(), Some(one[0]));
    }
}
