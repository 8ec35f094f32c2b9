//! The closing handshake: a close asked for by the application or the shutdown, a close sent at
//! once (protocol violation, answer to the peer's close), lingering after our last bytes, and what
//! is reported (close code, error) once the connection ends.

use std::time::{Duration, Instant};

use super::{Conn, End, Phase, CLOSE_TIMEOUT};
use crate::engine::broadcast::LogView;
use crate::engine::error::{Error, ErrorKind};
use crate::engine::frame::{self, opcode};
use crate::engine::parser::Violation;
use crate::engine::shared::Shared;
use crate::engine::stream::Transport;

/// What the closing handshake does next. The close frames themselves are recorded in
/// `Conn::close_sent` and `Conn::close_received` (what is reported at the end, and what the I/O
/// loop looks at); the protocol violation that closes a connection, if any, in `Conn::violation`.
/// Once our last bytes are out and FIN is sent, the connection's phase is `Phase::Linger`: it
/// reads (and ignores) until the peer's EOF, for at most `CLOSE_TIMEOUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// Nobody has asked to close yet.
    NotYet,
    /// We close first, after the queue: the application or the shutdown asked. Data still flows;
    /// our close frame is queued once every message accepted for this connection is written (or
    /// the close deadline given to `request_close` ends the connection, if the peer does not
    /// read). The peer's close may still come first: that leads to `FinAfterWrite`.
    Requested {
        /// The close code to send.
        code: u16,
        /// The reason to send.
        reason: String,
    },
    /// We closed first and our close frame follows all our data: nothing more is written; the
    /// peer's close frame ends the connection (`End::Done`); the peer closes TCP first, as RFC
    /// 6455 7.1.1 asks of a server. Bounded by `CLOSE_TIMEOUT`.
    AwaitingPeer,
    /// Our last bytes are queued: the close frame answering the peer's (the peer closed first),
    /// the one for a protocol violation or a policy (budget, message timeout), the one written at
    /// destroy, or a plain HTTP answer instead of a handshake. Data frames behind it were withheld
    /// (`take_unsent_data` finds them). Once the batch is written, FIN goes and the phase becomes
    /// `Phase::Linger`. Bounded by `CLOSE_TIMEOUT`.
    FinAfterWrite,
}

impl<S: Transport> Conn<S> {
    /// Asks for a closing handshake after what is queued is written. A peer that does not read
    /// can block that forever, so the connection ends after `within` whatever happens.
    pub fn request_close(&mut self, code: u16, reason: &str, within: Duration) {
        if self.close_sent.is_some() || self.closing != Closing::NotYet {
            return;
        }
        self.closing = Closing::Requested {
            code,
            reason: reason.to_string(),
        };
        let limit = Instant::now() + within;
        self.close_deadline = Some(self.close_deadline.map_or(limit, |d| d.min(limit)));
    }

    /// Everything queued is written: the requested close frame goes now (`Requested` becomes
    /// `AwaitingPeer`). The close deadline can only come closer.
    pub(super) fn send_requested_close(&mut self) {
        let Closing::Requested { code, reason } = &self.closing else {
            return;
        };
        let code = *code;
        let payload = frame::close_payload(code, reason);
        // Acknowledgements owed go ahead of the close, or the client would resend them.
        self.ack_round(Instant::now(), true);
        self.closing = Closing::AwaitingPeer;
        let mask = self.mask();
        self.push_control(frame::encode(opcode::CLOSE, &payload, mask));
        self.close_sent = Some(code);
        let limit = Instant::now() + CLOSE_TIMEOUT;
        self.close_deadline = Some(self.close_deadline.map_or(limit, |d| d.min(limit)));
        self.next_ping = None;
    }

    /// At destroy with no time left: writes a close frame ahead of the unsent data if the socket
    /// takes it now. The unsent data stays in the batch for the caller to account for.
    pub fn last_word(&mut self, code: u16, reason: &str, shared: &Shared, log: &LogView) {
        if !self.opened || self.close_sent.is_some() || self.out.front().is_some_and(|c| c.off > 0)
        {
            return;
        }
        let data = self.take_unsent_data();
        self.send_close_now(code, &frame::close_payload(code, reason));
        let _ = self.write(shared, log);
        self.out.extend(data);
    }

    /// Answers a protocol violation: a close frame with its code goes out, further input is
    /// ignored, and the connection ends once the frame is written (see `linger`).
    pub(super) fn fail(&mut self, v: Violation) {
        if self.close_sent.is_none() {
            let payload = frame::close_payload(v.code, v.reason);
            self.send_close_now(v.code, &payload);
        }
        self.violation = Some(v);
    }

    /// Sends a close frame as soon as the frame being written is complete. Data frames still in
    /// the batch must not follow a close frame: they are withheld (a client sends them on its
    /// next connection, a server counts them as dropped).
    pub(super) fn send_close_now(&mut self, code: u16, payload: &[u8]) {
        self.ack_round(Instant::now(), true);
        let keep = usize::from(self.out.front().is_some_and(|c| c.off > 0));
        let rest = self.out.split_off(keep.min(self.out.len()));
        for c in rest {
            if c.payload.is_some() {
                self.out_bytes = self.out_bytes.saturating_sub(c.data.len());
                self.withheld.push(c);
            } else {
                self.out.push_back(c);
            }
        }
        let mask = self.mask();
        self.push_control(frame::encode(opcode::CLOSE, payload, mask));
        self.close_sent = Some(code);
        self.closing = Closing::FinAfterWrite;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        self.next_ping = None;
        self.pong_deadline = None;
    }

    /// Our last bytes are written: send FIN and read until the peer's EOF (closing at once
    /// could reset the connection and destroy the close frame in flight).
    pub(super) fn linger(&mut self) {
        self.stream.shutdown_write();
        self.phase = Phase::Linger;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        self.handshake_deadline = None;
        self.next_ping = None;
        self.pong_deadline = None;
    }

    /// The close code and reason to report, given why the connection ended.
    pub fn close_status(&self, end: &End) -> (u16, String) {
        if let Some((code, reason)) = &self.close_received {
            return (*code, reason.clone());
        }
        if let Some(v) = &self.violation {
            return (v.code, v.reason.to_string());
        }
        // A close we sent, or one we could not send because the peer stopped reading.
        match self.close_sent.or(match &self.closing {
            Closing::Requested { code, .. } => Some(*code),
            _ => None,
        }) {
            Some(code) if matches!(end, End::Done | End::Eof) => (code, String::new()),
            _ => (1006, String::new()),
        }
    }

    /// The error to report for `end`, if it is one.
    pub fn error_of(&self, end: &End) -> Option<Error> {
        let peer = self.peer;
        if let Some(v) = &self.violation {
            // 1008 is our policy (memory budget, message timeout), not a fault of the peer's.
            let what = if v.code == 1008 {
                "was closed by policy"
            } else {
                "broke the protocol"
            };
            return Some(Error::new(
                ErrorKind::Io,
                format!("{peer} {what}: {} (closed with {})", v.reason, v.code),
            ));
        }
        if matches!(end, End::Io(_))
            && self.phase == Phase::Linger
            && self.close_sent.is_some()
            && self.close_received.is_some()
        {
            // Both close frames are through: nothing can be lost any more, and what the peer's
            // transport says now is no error. (An OpenSSL 3 peer that reads our FIN without a
            // close_notify answers with a decode_error alert.)
            return None;
        }
        match end {
            End::Eof
                if self.close_sent.is_none()
                    && self.close_received.is_none()
                    && self.phase != Phase::Linger =>
            {
                Some(Error::new(
                    ErrorKind::Io,
                    format!("{peer} closed the connection without a close frame"),
                ))
            }
            End::Eof | End::Done => None,
            End::Io(e) if crate::engine::tls::is_failure(e) => Some(Error::new(
                ErrorKind::Tls,
                format!("TLS with {peer} failed: {e}"),
            )),
            End::Io(e) => Some(Error::io(&format!("connection with {peer}"), e)),
            End::Timeout(what) => Some(Error::new(ErrorKind::Timeout, format!("{peer}: {what}"))),
            End::Handshake(why) => Some(Error::new(
                ErrorKind::Io,
                format!("handshake with {peer} failed: {why}"),
            )),
        }
    }
}
