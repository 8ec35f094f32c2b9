//! The client side of the loop: one connection at a time to the configured server, tried at
//! each of the name's addresses in turn (`addresses.rs`), then again after a backoff delay
//! (`backoff.rs`) that starts over only once a connection stayed open `STABLE_AFTER`. The data
//! frames a dropped connection did not write are carried over and sent first on the next one.
//!
//! Separate because this state (`ClientState`) exists only in client mode and outlives every
//! connection: a server loop never touches it, and its decisions (when to try again, which
//! address, what is carried over) are tested here without sockets.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::engine::addresses::Addresses;
use crate::engine::backoff::Backoff;
use crate::engine::conn::{Chunk, Conn, End, Phase};
use crate::engine::error::{Error, ErrorKind};
use crate::engine::proxy::{Failure, Tunnel};
use crate::engine::sink::Sink;
use crate::engine::stream::Stream;
use crate::engine::sys::writev_nosignal;

use super::IoLoop;

/// How long a client connection must stay open before the reconnect backoff starts over. Time,
/// not traffic, decides: a server that answers the handshake (or even one message) and then
/// fails the connection must not earn an immediate reconnect, and a client that only sends (a
/// syslog-ng destination) may never receive a message to prove the connection good. Five
/// seconds is far above any failure a server shows at once and far below a healthy
/// connection's life.
const STABLE_AFTER: Duration = Duration::from_secs(5);

/// What a client keeps across its connections.
#[derive(Debug)]
pub(super) struct ClientState {
    backoff: Backoff,
    /// When the next attempt is due, if one is planned.
    reconnect_at: Option<Instant>,
    /// Attempts made so far (every one after the first counts as a reconnect).
    attempts: u64,
    /// Data frames that a dropped connection did not write, sent first on the next one.
    carry: VecDeque<Chunk>,
    /// The resolved addresses of the server (or of its proxy) and which to try next.
    addrs: Addresses,
    /// The CONNECT exchange of the attempt under way, when it goes through a proxy.
    tunnel: Option<Tunnel>,
}

impl ClientState {
    /// No attempt made yet; delays from `backoff_min` doubling up to `backoff_max`.
    pub(super) fn new(backoff_min: Duration, backoff_max: Duration) -> Self {
        ClientState {
            backoff: Backoff::new(backoff_min, backoff_max),
            reconnect_at: None,
            attempts: 0,
            carry: VecDeque::new(),
            addrs: Addresses::default(),
            tunnel: None,
        }
    }

    /// Whether the attempt under way goes through a proxy (its CONNECT exchange is next).
    pub(super) fn tunnel_wanted(&self) -> bool {
        self.tunnel.is_some()
    }

    /// Drives the CONNECT exchange on the raw socket (TLS has not started): `Ok(true)` once
    /// the tunnel is up, `Ok(false)` while it waits for the socket.
    pub(super) fn tunnel(&mut self, s: &mut TcpStream) -> Result<bool, End> {
        let Some(t) = self.tunnel.as_mut() else {
            return Ok(true);
        };
        let mut reader: &TcpStream = s;
        let up = t
            .drive(
                |b| writev_nosignal(s, &[IoSlice::new(b)]),
                |buf| reader.read(buf),
            )
            .map_err(|f| match f {
                Failure::Io(e) => End::Io(e),
                Failure::Refused(why) => End::Handshake(why),
            })?;
        if up {
            self.tunnel = None;
        }
        Ok(up)
    }

    /// When the next attempt is due, for the poll timeout.
    pub(super) fn reconnect_at(&self) -> Option<Instant> {
        self.reconnect_at
    }

    /// Whether the planned attempt is due at `now`.
    pub(super) fn due(&self, now: Instant) -> bool {
        self.reconnect_at.is_some_and(|t| t <= now)
    }

    /// An attempt begins; returns whether it is a reconnect (it is not the first).
    fn attempt_begins(&mut self) -> bool {
        self.reconnect_at = None;
        self.attempts += 1;
        self.attempts > 1
    }

    /// Plans the next attempt after the backoff delay, but not after the drain's deadline.
    fn schedule(&mut self, now: Instant, shutdown: Option<Instant>) {
        let at = now + self.backoff.next_delay();
        self.reconnect_at = Some(match shutdown {
            Some(d) => at.min(d),
            None => at,
        });
    }

    /// The drain began with `deadline`: a planned attempt comes no later.
    pub(super) fn cap_at(&mut self, deadline: Instant) {
        if let Some(r) = self.reconnect_at {
            self.reconnect_at = Some(r.min(deadline));
        }
    }

    /// A connection (or attempt) that opened at `opened_at`, if it opened, ended at `now`. The
    /// backoff starts over if it stayed open `STABLE_AFTER`. The next attempt is planned unless
    /// the drain began (`shutdown` is its deadline) and no data waits (`has_data`): at once if
    /// an address of this round was not tried yet and the connection never opened, else after
    /// the backoff delay with a new round of addresses.
    pub(super) fn connection_ended(
        &mut self,
        opened_at: Option<Instant>,
        now: Instant,
        shutdown: Option<Instant>,
        has_data: bool,
    ) {
        if opened_at.is_some_and(|t| now.saturating_duration_since(t) >= STABLE_AFTER) {
            self.backoff.reset();
        }
        if shutdown.is_some() && !has_data {
            return;
        }
        if opened_at.is_some() || !self.addrs.untried_left() {
            self.addrs.restart();
            self.schedule(now, shutdown);
        } else {
            // Another address of the same name is left: try it now.
            self.reconnect_at = Some(now);
        }
    }

    /// Puts frames a connection did not write back in front of the carry-over, in order.
    pub(super) fn carry_back(&mut self, unsent: Vec<Chunk>) {
        for ch in unsent.into_iter().rev() {
            self.carry.push_front(ch);
        }
    }

    /// Whether frames wait in the carry-over.
    pub(super) fn carries(&self) -> bool {
        !self.carry.is_empty()
    }

    /// Final teardown: no attempt any more; returns how many carried frames are dropped.
    pub(super) fn abandon(&mut self) -> u64 {
        self.reconnect_at = None;
        let n = self.carry.len() as u64;
        self.carry.clear();
        n
    }

    /// The next address to try, resolving `name` with `resolve` at the start of a round.
    fn next_address(
        &mut self,
        name: &str,
        resolve: impl FnOnce() -> io::Result<Vec<SocketAddr>>,
    ) -> Result<SocketAddr, Error> {
        self.addrs
            .next(resolve)
            .map_err(|e| Error::io(&format!("cannot resolve {name}"), &e))?
            .ok_or_else(|| Error::new(ErrorKind::Io, format!("{name} resolves to no address")))
    }
}

impl IoLoop {
    /// Starts a connection attempt to the next address; on failure plans the next one.
    pub(super) fn connect(&mut self, sink: &mut Sink) {
        if self.client.attempt_begins() {
            self.shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        let c = &self.shared.config;
        // Through a proxy, TCP goes to the proxy; the server's name is the proxy's to resolve.
        let (host, port) = match &c.proxy {
            Some(p) => (&p.host, p.port),
            None => (&c.address, c.port),
        };
        self.client.tunnel = c.proxy.as_ref().map(|p| Tunnel::new(p, &c.address, c.port));
        let what = if c.proxy.is_some() { "proxy " } else { "" };
        let addr = self.client.next_address(host, || {
            Ok((host.as_str(), port).to_socket_addrs()?.collect())
        });
        let attempt = addr.and_then(|addr| {
            let s = TcpStream::connect(addr)
                .map_err(|e| Error::io(&format!("cannot connect to {what}{addr}"), &e))?;
            let _ = s.set_nodelay(true);
            Stream::new(s, self.tls.as_ref())
                .map(|s| (s, addr))
                .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS for {addr}: {e}")))
        });
        match attempt {
            Ok((stream, addr)) => {
                let id = self.next_id;
                self.next_id += 1;
                let mut conn = Conn::new(
                    id,
                    stream,
                    addr,
                    Phase::Connecting,
                    self.shared.client_queue.clone(),
                    &self.shared,
                );
                // What the previous connection did not write goes first once this one opens.
                conn.carry = std::mem::take(&mut self.client.carry);
                self.add(conn, sink);
            }
            Err(e) => {
                sink.error(0, e);
                self.schedule_reconnect();
            }
        }
    }

    /// Plans the next attempt after the backoff delay.
    pub(super) fn schedule_reconnect(&mut self) {
        self.client
            .schedule(Instant::now(), self.shutdown.deadline());
    }

    /// A client connection finished its opening handshake. The backoff starts over only once
    /// it proved stable (see STABLE_AFTER and `connection_ended`): a handshake alone proves
    /// nothing. If the drain began meanwhile, it closes at once.
    pub(super) fn client_opened(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id) {
            if let Some(d) = self.shutdown.deadline() {
                c.request_close(
                    1001,
                    "going away",
                    d.saturating_duration_since(Instant::now()),
                );
            }
        }
    }

    /// Whether data waits anywhere: the carry-over, the client queue, or a connection.
    pub(super) fn client_has_data(&self) -> bool {
        self.client.carries()
            || !self.shared.client_queue.is_empty()
            || self
                .conns
                .values()
                .any(|c| c.has_unsent_data() || c.has_unacked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(60);

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A client whose backoff has grown to its maximum (every delay at least MAX / 2).
    fn grown() -> ClientState {
        let mut c = ClientState::new(MIN, MAX);
        for _ in 0..20 {
            c.backoff.next_delay();
        }
        c
    }

    fn delay(c: &ClientState, now: Instant) -> Duration {
        c.reconnect_at.expect("an attempt is planned") - now
    }

    #[test]
    fn only_a_connection_open_five_seconds_resets_the_backoff() {
        let t0 = Instant::now();
        let mut c = grown();
        let now = t0 + STABLE_AFTER - Duration::from_millis(1);
        c.connection_ended(Some(t0), now, None, false);
        assert!(delay(&c, now) >= MAX / 2, "{:?}", delay(&c, now));
        let mut c = grown();
        let now = t0 + STABLE_AFTER;
        c.connection_ended(Some(t0), now, None, false);
        assert!(delay(&c, now) <= MIN, "{:?}", delay(&c, now));
    }

    #[test]
    fn a_failed_attempt_never_resets_the_backoff() {
        let t0 = Instant::now();
        let mut c = grown();
        let now = t0 + Duration::from_secs(3600);
        c.connection_ended(None, now, None, false);
        assert!(delay(&c, now) >= MAX / 2, "{:?}", delay(&c, now));
    }

    #[test]
    fn the_next_address_is_tried_at_once_and_the_backoff_applies_after_the_last() {
        let t0 = Instant::now();
        let list = vec![addr("[::1]:9"), addr("127.0.0.1:9")];
        let mut c = ClientState::new(MIN, MAX);
        assert!(!c.attempt_begins(), "the first attempt is no reconnect");
        assert_eq!(c.next_address("h", || Ok(list.clone())).unwrap(), list[0]);
        c.connection_ended(None, t0, None, false);
        assert_eq!(c.reconnect_at(), Some(t0), "127.0.0.1 is left: now");
        assert!(c.due(t0));
        assert!(c.attempt_begins(), "every later attempt is a reconnect");
        assert_eq!(c.reconnect_at(), None);
        assert_eq!(c.next_address("h", || Ok(list.clone())).unwrap(), list[1]);
        c.connection_ended(None, t0, None, false);
        let d = delay(&c, t0);
        assert!(d >= MIN / 2 && d <= MIN, "{d:?}");
        assert!(!c.due(t0));
        assert!(c.due(t0 + MIN));
    }

    #[test]
    fn after_an_opened_connection_the_round_starts_over_after_the_backoff() {
        let t0 = Instant::now();
        let list = vec![addr("[::1]:9"), addr("127.0.0.1:9")];
        let mut c = ClientState::new(MIN, MAX);
        c.attempt_begins();
        assert_eq!(c.next_address("h", || Ok(list.clone())).unwrap(), list[0]);
        // It opened: although 127.0.0.1 was not tried, the next attempt waits and resolves
        // the name again.
        c.connection_ended(Some(t0), t0 + Duration::from_secs(1), None, false);
        assert!(delay(&c, t0 + Duration::from_secs(1)) >= MIN / 2);
        let again = vec![addr("127.0.0.2:9")];
        assert_eq!(c.next_address("h", || Ok(again.clone())).unwrap(), again[0]);
    }

    #[test]
    fn an_unresolvable_name_is_reported() {
        let mut c = ClientState::new(MIN, MAX);
        let e = c.next_address("nowhere", || Ok(Vec::new())).unwrap_err();
        assert!(e.message.contains("nowhere resolves to no address"), "{e}");
        let e = c
            .next_address("nowhere", || Err(io::ErrorKind::NotFound.into()))
            .unwrap_err();
        assert!(e.message.contains("cannot resolve nowhere"), "{e}");
    }

    #[test]
    fn during_the_drain_only_waiting_data_earns_an_attempt_and_never_after_the_deadline() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(10);
        let mut c = grown();
        c.connection_ended(Some(t0), t0, Some(deadline), false);
        assert_eq!(c.reconnect_at(), None, "nothing to deliver: no attempt");
        c.connection_ended(Some(t0), t0, Some(deadline), true);
        assert_eq!(c.reconnect_at(), Some(deadline), "capped at the deadline");
    }

    #[test]
    fn a_planned_attempt_moves_up_to_the_drain_deadline_and_abandon_cancels_it() {
        let t0 = Instant::now();
        let mut c = grown();
        c.connection_ended(None, t0, None, false);
        let deadline = t0 + Duration::from_secs(1);
        c.cap_at(deadline);
        assert_eq!(c.reconnect_at(), Some(deadline));
        c.cap_at(deadline + Duration::from_secs(1));
        assert_eq!(
            c.reconnect_at(),
            Some(deadline),
            "a later deadline does not delay it"
        );
        assert_eq!(c.abandon(), 0);
        assert_eq!(c.reconnect_at(), None);
        let mut idle = ClientState::new(MIN, MAX);
        idle.cap_at(deadline);
        assert_eq!(idle.reconnect_at(), None, "no attempt is made up");
    }
}
