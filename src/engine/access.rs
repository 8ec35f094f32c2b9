//! Who may open a WebSocket on a server: the Origin check (against cross-site WebSocket
//! hijacking), bearer tokens (RFC 6750) and the application's own filter. The handshake calls
//! `AccessRules::check` once a request is a valid WebSocket upgrade for the server's path; a
//! refusal becomes an HTTP answer sent before the connection is closed.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::error::{Error, Result};
use super::log::Level;
use crate::ws_log;

mod origin;

use origin::{same_origin, Authority};

/// A WebSocket upgrade request as the access rules and the filter see it. Borrowed from the
/// request head: valid only while the handshake is decided.
pub struct Request<'a> {
    /// The path of the request target, without the query.
    pub path: &'a str,
    /// The query of the request target, without the '?', still percent-encoded ("" if none).
    pub query: &'a str,
    /// The peer's address.
    pub peer: SocketAddr,
    /// All header fields of the request, in order.
    pub headers: &'a [httparse::Header<'a>],
}

impl Request<'_> {
    /// The value of the first header field named `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The values of every header field named `name` (case-insensitive), in order.
    fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The first Origin header, trimmed, if there is one and it is text.
    pub fn origin(&self) -> Option<&str> {
        self.header("Origin")
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }
}

/// The application's rule, run last: answers 0 to accept or an HTTP status (400..=599) to refuse
/// with. It runs on the I/O thread, so it must be quick.
pub type Filter = Arc<dyn Fn(&Request<'_>) -> i32 + Send + Sync>;

/// Why a handshake is refused: the HTTP status, extra header lines and a reason for the log and
/// the response body (never the token).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status code.
    pub status: u16,
    /// Extra header lines, each ending in CRLF.
    pub headers: String,
    /// What was wrong.
    pub why: String,
}

impl Refusal {
    fn new(status: u16, why: impl Into<String>) -> Self {
        Refusal {
            status,
            headers: String::new(),
            why: why.into(),
        }
    }

    /// A refusal with `WWW-Authenticate: Bearer`, plus the RFC 6750 error code if any.
    fn bearer(status: u16, error: Option<&str>, why: &str) -> Self {
        let challenge = match error {
            Some(e) => format!("WWW-Authenticate: Bearer error=\"{e}\"\r\n"),
            None => "WWW-Authenticate: Bearer\r\n".to_string(),
        };
        Refusal {
            status,
            headers: challenge,
            why: why.to_string(),
        }
    }

    /// The status line's code and reason phrase, e.g. "403 Forbidden".
    pub fn status_line(&self) -> String {
        format!("{} {}", self.status, reason_phrase(self.status))
    }
}

/// The reason phrase of an HTTP status (a generic one for codes without a well-known phrase; the
/// phrase carries no meaning in HTTP/1.1).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ if status < 500 => "Client Error",
        _ => "Server Error",
    }
}

/// Which origins may open a WebSocket.
#[derive(Clone, Default)]
enum Origins {
    /// None configured: only the request's own host (or no Origin at all).
    #[default]
    SameHost,
    /// These, exactly (scheme, host, effective port).
    List(Vec<Authority>),
    /// Any origin ("*").
    Any,
}

/// The access rules of a server. The default lets in requests without an Origin header and
/// those whose Origin names the request's own host; no token is needed and there is no filter.
#[derive(Clone, Default)]
pub struct AccessRules {
    origins: Origins,
    /// SHA-256 digests of the accepted tokens: comparing digests takes the same time whatever
    /// the length of the configured tokens, and the tokens themselves are not kept.
    tokens: Vec<[u8; 32]>,
    filter: Option<Filter>,
}

impl fmt::Debug for AccessRules {
    /// Never shows the tokens, not even their digests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins = match &self.origins {
            Origins::SameHost => "same host".to_string(),
            Origins::Any => "*".to_string(),
            Origins::List(l) => format!("{} listed", l.len()),
        };
        f.debug_struct("AccessRules")
            .field("origins", &origins)
            .field("tokens", &self.tokens.len())
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

/// RFC 6750 §2.1 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Compares two SHA-256 digests in constant time: every byte is looked at whatever differs
/// first, so the time taken tells an attacker nothing about how close a guess was.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for i in 0..32 {
        diff |= a[i] ^ b[i];
    }
    // black_box keeps the optimiser from turning the loop into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// `b` without leading and trailing ASCII white space.
fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Decodes %XX escapes ('+' stays '+': a token has no spaces, and browsers send '+' as %2B
/// anyway). None for a malformed escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

impl AccessRules {
    /// Allows WebSocket requests from `origin`: `scheme://host[:port]` (compared exactly, the
    /// host case-insensitively, a default port written or not), or "*" for any origin. Once an
    /// origin is listed, only listed origins (and requests without Origin) get in: the
    /// server's own host is not implied.
    pub fn allow_origin(&mut self, origin: &str) -> Result<()> {
        if origin == "*" {
            self.origins = Origins::Any;
            return Ok(());
        }
        if origin.eq_ignore_ascii_case("null") {
            return Err(Error::invalid(
                "origin \"null\" can be sent by any sandboxed page: use \"*\" if any origin may connect",
            ));
        }
        let a = Authority::origin(origin).ok_or_else(|| {
            Error::invalid(format!(
                "origin {origin:?} is not scheme://host[:port] (no path, no trailing '/')"
            ))
        })?;
        match &mut self.origins {
            Origins::Any => {}
            Origins::List(l) => l.push(a),
            o @ Origins::SameHost => *o = Origins::List(vec![a]),
        }
        Ok(())
    }

    /// Requires `Authorization: Bearer <token>` or `?access_token=<token>` from every WebSocket
    /// request; each call adds one more accepted token. A token is an RFC 6750 b64token
    /// (letters, digits, `-._~+/`, then optional `=`).
    pub fn add_bearer_token(&mut self, token: &str) -> Result<()> {
        if !is_b64token(token) {
            return Err(Error::invalid(
                "a bearer token must be letters, digits and -._~+/ (then optional '='), not empty",
            ));
        }
        self.tokens.push(openssl::sha::sha256(token.as_bytes()));
        Ok(())
    }

    /// Sets (or with None removes) the application's filter.
    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.filter = filter;
    }

    /// Decides on a WebSocket request: Origin, then token, then the filter.
    pub fn check(&self, req: &Request<'_>) -> std::result::Result<(), Refusal> {
        self.check_origin(req)?;
        self.check_token(req)?;
        self.run_filter(req)
    }

    fn check_origin(&self, req: &Request<'_>) -> std::result::Result<(), Refusal> {
        let n = req.all("Origin").count();
        if n == 0 || matches!(self.origins, Origins::Any) {
            return Ok(());
        }
        if n > 1 {
            return Err(Refusal::new(403, "more than one Origin header"));
        }
        let raw = req.origin().unwrap_or("");
        let origin = Authority::origin(raw);
        let allowed = match (&self.origins, &origin) {
            (_, None) => false,
            (Origins::List(l), Some(o)) => l.iter().any(|a| {
                a.scheme == o.scheme && a.host == o.host && a.effective_port() == o.effective_port()
            }),
            (_, Some(o)) => {
                let hosts: Vec<&[u8]> = req.all("Host").collect();
                match hosts.as_slice() {
                    [h] => std::str::from_utf8(h).is_ok_and(|h| same_origin(o, h.trim())),
                    _ => false,
                }
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal::new(
                403,
                format!("origin {raw:?} may not open a WebSocket here"),
            ))
        }
    }

    /// The bearer token the request presents: None if it presents none. RFC 6750 §2: a client
    /// must not send the token more than one way, so two Authorization headers, two
    /// access_token parameters or one of each are a bad request.
    fn presented<'r>(req: &'r Request<'_>) -> std::result::Result<Option<Cow<'r, [u8]>>, Refusal> {
        let twice = || {
            Refusal::bearer(
                400,
                Some("invalid_request"),
                "bearer token sent more than once",
            )
        };
        let mut found = None;
        let mut auth = req.all("Authorization");
        if let Some(v) = auth.next() {
            if auth.next().is_some() {
                return Err(twice());
            }
            // The scheme is case-insensitive (RFC 7235 §2.1); other schemes carry no token.
            let v = trim(v);
            let scheme_len = v
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(v.len());
            if v[..scheme_len].eq_ignore_ascii_case(b"Bearer") {
                found = Some(Cow::Borrowed(trim(&v[scheme_len..])));
            }
        }
        for pair in req.query.split('&') {
            let Some(value) = pair.strip_prefix("access_token=") else {
                continue;
            };
            if found.is_some() {
                return Err(twice());
            }
            let decoded = percent_decode(value).ok_or_else(|| {
                Refusal::bearer(
                    400,
                    Some("invalid_request"),
                    "malformed access_token parameter",
                )
            })?;
            found = Some(Cow::Owned(decoded));
        }
        Ok(found)
    }

    fn check_token(&self, req: &Request<'_>) -> std::result::Result<(), Refusal> {
        if self.tokens.is_empty() {
            return Ok(());
        }
        let Some(token) = Self::presented(req)? else {
            return Err(Refusal::bearer(401, None, "no bearer token"));
        };
        // Hashing takes time that depends only on the length of what the client sent; every
        // configured token is compared, so the time does not tell which one matched either.
        let digest = openssl::sha::sha256(&token);
        let mut matched = false;
        for t in &self.tokens {
            matched |= digests_equal(&digest, t);
        }
        if matched {
            Ok(())
        } else {
            Err(Refusal::bearer(
                401,
                Some("invalid_token"),
                "wrong bearer token",
            ))
        }
    }

    fn run_filter(&self, req: &Request<'_>) -> std::result::Result<(), Refusal> {
        let Some(f) = &self.filter else {
            return Ok(());
        };
        match catch_unwind(AssertUnwindSafe(|| f(req))) {
            Ok(0) => Ok(()),
            Ok(s @ 400..=599) => Err(Refusal::new(
                s as u16,
                format!("refused by the handshake filter with {s}"),
            )),
            Ok(s) => {
                ws_log!(
                    Level::Error,
                    "handshake filter answered {s}, neither 0 nor an HTTP status 400..599: refusing with 500"
                );
                Err(Refusal::new(500, "handshake filter failed"))
            }
            Err(_) => {
                ws_log!(Level::Error, "handshake filter panicked: refusing with 500");
                Err(Refusal::new(500, "handshake filter failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
