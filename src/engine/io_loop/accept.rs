//! The server's door: accepting connections and keeping `max_connections` (default 10000,
//! handshaking connections included).
//! A connection over the limit is refused with 503: over plain TCP the answer is written at
//! once and the socket closed; over TLS the client would read plain HTTP as a broken record, so
//! it is admitted as a refusing connection that answers 503 after its TLS handshake (at most
//! `MAX_REFUSING` at a time, beyond which it is closed at once).
//!
//! `Acceptor` owns the listening socket and the count of refusals under way.
//!
//! Separate because admission is the server's first defence against being flooded with
//! connections, and its rule (who counts against the limit, what a refusal may cost) is tested
//! here without sockets.

use std::io;
use std::sync::Arc;

use mio::net::TcpListener;
use mio::{Interest, Registry};

use crate::engine::conn::{Conn, Phase};
use crate::engine::error::{Error, ErrorKind, Result};
use crate::engine::handshake;
use crate::engine::log::Level;
use crate::engine::queue::OutQueue;
use crate::engine::sink::Sink;
use crate::engine::stream::Stream;
use crate::ws_log;

use super::{IoLoop, LISTENER};

/// TLS connections over max_connections being refused inside TLS at most (beyond it they are
/// closed at once: a refusal must not cost more than the connections it protects).
const MAX_REFUSING: usize = 64;

/// What becomes of a newly accepted socket.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Under the limit: a connection like any other.
    Admit,
    /// Over the limit, plain TCP: 503 written at once, then closed.
    RefuseNow,
    /// Over the limit, TLS: admitted to answer 503 inside TLS.
    RefuseInTls,
    /// Over the limit with too many TLS refusals under way: closed at once.
    Close,
}

/// The admission of one more socket when `conns` connections exist, `refusing` of which are
/// TLS refusals (those do not count against `max`).
fn admission(conns: usize, refusing: usize, max: usize, tls: bool) -> Admission {
    if conns - refusing < max {
        Admission::Admit
    } else if !tls {
        Admission::RefuseNow
    } else if refusing >= MAX_REFUSING {
        Admission::Close
    } else {
        Admission::RefuseInTls
    }
}

/// The server's listening socket and the TLS refusals under way (a client has neither).
#[derive(Debug, Default)]
pub(super) struct Acceptor {
    listener: Option<TcpListener>,
    /// TLS connections over max_connections that get their 503 inside TLS.
    refusing: usize,
}

impl Acceptor {
    /// Registers `listener` (if any) with the poll, so that a server accepts as soon as its
    /// thread runs.
    pub(super) fn open(
        listener: Option<std::net::TcpListener>,
        registry: &Registry,
    ) -> Result<Acceptor> {
        let listener = match listener {
            Some(l) => {
                l.set_nonblocking(true)
                    .map_err(|e| Error::io("set_nonblocking", &e))?;
                let mut l = TcpListener::from_std(l);
                registry
                    .register(&mut l, LISTENER, Interest::READABLE)
                    .map_err(|e| Error::io("register listener", &e))?;
                Some(l)
            }
            None => None,
        };
        Ok(Acceptor {
            listener,
            refusing: 0,
        })
    }

    /// Stops accepting (the drain began): the listening socket is closed.
    pub(super) fn close(&mut self, registry: &Registry) {
        if let Some(mut l) = self.listener.take() {
            let _ = registry.deregister(&mut l);
        }
    }

    /// A connection admitted to be refused inside TLS ended.
    pub(super) fn refusal_ended(&mut self) {
        self.refusing -= 1;
    }
}

impl IoLoop {
    /// Accepts every waiting connection (the listener is edge-triggered).
    pub(super) fn accept(&mut self, sink: &mut Sink) {
        loop {
            let Some(l) = self.acceptor.listener.as_ref() else {
                return;
            };
            let (stream, peer) = match l.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: report, and try again on the next event.
                    sink.error(0, Error::io("accept", &e));
                    return;
                }
            };
            let max = self.shared.config.max_connections;
            let refusing = self.acceptor.refusing;
            let admit = admission(self.conns.len(), refusing, max, self.tls.is_some());
            if admit != Admission::Admit {
                ws_log!(
                    Level::Warn,
                    "refusing {peer}: max_connections ({max}) reached"
                );
            }
            match admit {
                Admission::RefuseNow => {
                    let mut s = stream;
                    let _ = io::Write::write(&mut s, &handshake::too_many_connections());
                    continue;
                }
                Admission::Close => continue,
                Admission::Admit | Admission::RefuseInTls => {}
            }
            let _ = stream.set_nodelay(true);
            let stream = match Stream::new(stream, self.tls.as_ref()) {
                Ok(s) => s,
                Err(e) => {
                    sink.error(
                        0,
                        Error::new(ErrorKind::Tls, format!("TLS for {peer}: {e}")),
                    );
                    continue;
                }
            };
            let id = self.next_id;
            self.next_id += 1;
            let q = Arc::new(OutQueue::new(self.shared.config.queue_capacity));
            let mut conn = Conn::new(id, stream, peer, Phase::ServerHandshake, q, &self.shared);
            if admit == Admission::RefuseInTls {
                conn.refuse = true;
                self.acceptor.refusing += 1;
            }
            self.add(conn, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_under_the_limit_are_admitted() {
        assert_eq!(admission(0, 0, 2, false), Admission::Admit);
        assert_eq!(admission(1, 0, 2, true), Admission::Admit);
    }

    #[test]
    fn over_the_limit_plain_tcp_is_refused_at_once() {
        assert_eq!(admission(2, 0, 2, false), Admission::RefuseNow);
        assert_eq!(admission(0, 0, 0, false), Admission::RefuseNow);
    }

    #[test]
    fn over_the_limit_tls_is_refused_inside_tls_within_a_bound() {
        assert_eq!(admission(2, 0, 2, true), Admission::RefuseInTls);
        // Refusals under way do not count against the limit...
        assert_eq!(admission(2 + 10, 10, 3, true), Admission::Admit);
        assert_eq!(admission(2 + 10, 10, 2, true), Admission::RefuseInTls);
        // ...but there are never more than MAX_REFUSING of them.
        let refusing = MAX_REFUSING;
        assert_eq!(admission(2 + refusing, refusing, 2, true), Admission::Close);
    }
}
