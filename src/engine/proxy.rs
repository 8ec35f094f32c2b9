//! A client's HTTP CONNECT proxy: the proxy URL (`http://[user:pass@]host[:port]`), the choice
//! made from the environment (`http_proxy`, `https_proxy`, `no_proxy`, as curl reads them), and
//! the CONNECT exchange itself (`Tunnel`), driven over the non-blocking socket before TLS and the
//! WebSocket handshake run through the tunnel.
//!
//! Separate because it is one self-contained HTTP exchange with its own parsing and limits, and
//! the connection code only needs to know "not yet", "tunnel up" or "failed, here is why".

use std::fmt;
use std::io;

use super::error::Error;
use super::handshake::{head_end, MAX_HEAD};

/// The port used when a proxy URL names none (curl's default for proxies).
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// A parsed proxy URL. `Debug` and `Display` never show the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// The proxy's host name or address (IPv6 without brackets).
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// `user:password`, decoded, when the URL carries credentials.
    credentials: Option<String>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", authority(&self.host, self.port))?;
        if self.credentials.is_some() {
            f.write_str(" (with credentials)")?;
        }
        Ok(())
    }
}

/// `host:port`, with an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Decodes `%XX` escapes (credentials in a URL are percent-encoded).
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a bad %-escape in the credentials")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials that are not UTF-8".to_string())
}

impl ProxyUrl {
    /// Parses `http://[user[:password]@]host[:port][/]`. With `scheme_optional` (environment
    /// variables, as curl reads them) the `http://` may be left out. Only the `http` scheme is
    /// supported; control characters, spaces, paths and an empty host are refused.
    pub fn parse(url: &str, scheme_optional: bool) -> Result<ProxyUrl, String> {
        if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("the proxy URL contains a control character or a space".into());
        }
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err("only http:// proxies are supported".into()),
            None if scheme_optional => url,
            None => return Err("the proxy URL must start with http://".into()),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err("the proxy URL must not have a path".into());
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let credentials = match userinfo {
            Some("") => return Err("empty credentials in the proxy URL".into()),
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                Some(format!(
                    "{}:{}",
                    percent_decode(user)?,
                    percent_decode(pass)?
                ))
            }
            None => None,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("an unclosed [ in the proxy URL")?;
            match after {
                "" => (h, None),
                p => (
                    h,
                    Some(p.strip_prefix(':').ok_or("junk after ] in the proxy URL")?),
                ),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains(['[', ']', '@']) {
            return Err("the proxy URL has no valid host".into());
        }
        let port = match port {
            None => DEFAULT_PROXY_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                // Not quoted: a URL missing its '@' has the password here.
                _ => return Err("the proxy port is not a number in 1..65535".into()),
            },
        };
        Ok(ProxyUrl {
            host: host.to_string(),
            port,
            credentials,
        })
    }
}

/// Whether `no_proxy` (curl's syntax: comma-separated host names, domain suffixes with or
/// without a leading dot, IP addresses, or `*` for every host) says `host` is reached directly.
/// Names compare without case; a port after an entry is ignored.
pub fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    no_proxy.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.strip_prefix('[').map_or(entry, |e| {
            // "[::1]:8080" or "[::1]"
            e.split_once(']').map_or(e, |(a, _)| a)
        });
        // "host:port" (but not a bare IPv6 address, which has several colons).
        let entry = match entry.split_once(':') {
            Some((h, _)) if entry.matches(':').count() == 1 => h,
            _ => entry,
        };
        let entry = entry
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !entry.is_empty()
            && (host == entry
                || (host.len() > entry.len()
                    && host.ends_with(&entry)
                    && host.as_bytes()[host.len() - entry.len() - 1] == b'.'))
    })
}

/// The proxy the environment names for a connection to `host` (`tls`: wss://): `https_proxy`
/// (wss) or `http_proxy` (ws), the upper-case name as fallback (`HTTPS_PROXY`, `HTTP_PROXY`),
/// unless `no_proxy` / `NO_PROXY` matches `host`. An empty variable counts as unset. `get`
/// reads one variable (the environment, or a table in tests).
pub fn from_env(
    get: impl Fn(&str) -> Option<String>,
    host: &str,
    tls: bool,
) -> Result<Option<ProxyUrl>, Error> {
    let var = |lower: &str, upper: &str| {
        get(lower)
            .filter(|v| !v.is_empty())
            .or_else(|| get(upper).filter(|v| !v.is_empty()))
    };
    let (name, value) = if tls {
        ("https_proxy", var("https_proxy", "HTTPS_PROXY"))
    } else {
        ("http_proxy", var("http_proxy", "HTTP_PROXY"))
    };
    let Some(value) = value else {
        return Ok(None);
    };
    if var("no_proxy", "NO_PROXY").is_some_and(|np| no_proxy_matches(&np, host)) {
        return Ok(None);
    }
    // The value may hold credentials: the error names the variable, never its text.
    ProxyUrl::parse(&value, true)
        .map(Some)
        .map_err(|why| Error::invalid(format!("{name} from the environment: {why}")))
}

/// Standard base64 (RFC 4648 section 4, with padding), for `Proxy-Authorization: Basic`.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(A[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether `host` can be named in a CONNECT request: no control character, space, `/` or `@`.
pub fn valid_target(host: &str) -> bool {
    !host.is_empty()
        && !host
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'/' || b == b'@')
}

/// The CONNECT request for `host:port`.
pub fn connect_request(proxy: &ProxyUrl, host: &str, port: u16) -> Vec<u8> {
    let target = authority(host, port);
    let mut r = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(c) = &proxy.credentials {
        r.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64(c.as_bytes())
        ));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// Checks the proxy's answer head: `Ok` for 2xx, else why (with the proxy's status and reason).
pub fn check_answer(head: &[u8]) -> Result<(), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("the proxy's answer to CONNECT is not valid HTTP".into()),
    }
    match resp.code {
        Some(code) if (200..300).contains(&code) => Ok(()),
        Some(code) => Err(format!(
            "proxy answered {code} {}",
            resp.reason.unwrap_or("").escape_default()
        )
        .trim_end()
        .to_string()),
        None => Err("the proxy's answer to CONNECT has no status".into()),
    }
}

/// One CONNECT exchange over a non-blocking socket: the request written, then the answer read
/// (at most MAX_HEAD bytes) and checked.
#[derive(Debug)]
pub struct Tunnel {
    request: Vec<u8>,
    written: usize,
    answer: Vec<u8>,
}

/// Why a CONNECT exchange failed.
#[derive(Debug)]
pub enum Failure {
    /// The socket failed.
    Io(io::Error),
    /// The proxy refused, closed, or answered something else than HTTP.
    Refused(String),
}

impl Tunnel {
    /// An exchange asking `proxy` for a tunnel to `host:port`.
    pub fn new(proxy: &ProxyUrl, host: &str, port: u16) -> Tunnel {
        Tunnel {
            request: connect_request(proxy, host, port),
            written: 0,
            answer: Vec::new(),
        }
    }

    /// Goes on with the exchange as far as the socket allows: `Ok(true)` once the proxy
    /// answered 2xx (the tunnel is up), `Ok(false)` while it waits for the socket.
    pub fn drive(
        &mut self,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> Result<bool, Failure> {
        while self.written < self.request.len() {
            match write(&self.request[self.written..]) {
                Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Io(e)),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            // Never read past MAX_HEAD + 1: the answer is bounded however it arrives.
            let room = (MAX_HEAD + 1 - self.answer.len()).min(buf.len());
            match read(&mut buf[..room]) {
                Ok(0) => {
                    return Err(Failure::Refused(
                        "the proxy closed the connection without answering CONNECT".into(),
                    ))
                }
                Ok(n) => self.answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Io(e)),
            }
            match head_end(&self.answer[..self.answer.len().min(MAX_HEAD)]) {
                Some(end) => {
                    check_answer(&self.answer[..end]).map_err(Failure::Refused)?;
                    if end < self.answer.len() {
                        // The server speaks only after our handshake or ClientHello.
                        return Err(Failure::Refused(
                            "the proxy sent bytes after its answer to CONNECT".into(),
                        ));
                    }
                    return Ok(true);
                }
                None if self.answer.len() >= MAX_HEAD => {
                    return Err(Failure::Refused(
                        "the proxy's answer to CONNECT is larger than 16 KiB".into(),
                    ))
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
