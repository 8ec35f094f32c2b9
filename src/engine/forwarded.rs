//! Who the client really is when a server sits behind a reverse proxy: the list of trusted
//! proxy addresses, and the reading of the `Forwarded` (RFC 7239) and `X-Forwarded-For`
//! headers that such a proxy adds.
//!
//! Only a connection whose TCP peer is a trusted proxy has its headers read; anyone else could
//! write any address there. In a header, the client is the right-most address that is not
//! itself a trusted proxy: every proxy appends the address it got its connection from, so the
//! elements to the left of the last untrusted hop were written by that hop, which can lie.
//!
//! Which header: a proxy usually maintains only one of the two and passes the other through as
//! the client sent it (nginx and HAProxy pass a client's `Forwarded` untouched unless told
//! otherwise). Preferring either header whenever it is present would therefore let a client
//! spoof its address through a proxy that maintains the other one. So: when only one of them
//! is present, it is used; when both are, the address is taken only if both name the same
//! client (`Forwarded` then supplies the port, being the standard and the one that has ports),
//! and otherwise the connection keeps the proxy's address. Nothing is ever believed that the
//! proxy did not write itself.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::error::{Error, Result};
use super::log::Level;
use crate::ws_log;

/// One trusted network: an address and how many leading bits of it must match.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses "192.0.2.1", "10.0.0.0/8", "::1" or "fd00::/8". Host bits set under the mask are
    /// refused: "10.1.2.3/8" is far more likely a typo than a wish to trust 10.0.0.0/8.
    fn parse(text: &str) -> std::result::Result<Net, String> {
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u8 = p.parse().map_err(|_| format!("bad prefix length {p:?}"))?;
                if n > max {
                    return Err(format!("prefix length {n} is more than {max}"));
                }
                n
            }
            Some(p) => return Err(format!("bad prefix length {p:?}")),
        };
        // A v4-mapped IPv6 block is the IPv4 block it maps (peers are compared canonically).
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let net = Net { addr, prefix };
        if net.masked() != bits(addr) {
            return Err(format!(
                "host bits are set under the /{prefix} mask (the block starts at {})",
                net.start()
            ));
        }
        Ok(net)
    }

    /// The mask of the prefix, over the address's own width.
    fn mask(&self) -> u128 {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == 0 {
            0
        } else {
            (u128::MAX << (width - u32::from(self.prefix))) & (u128::MAX >> (128 - width))
        }
    }

    fn masked(&self) -> u128 {
        bits(self.addr) & self.mask()
    }

    /// The first address of the block.
    fn start(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4((self.masked() as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(self.masked().into()),
        }
    }

    /// Whether `ip` (already canonical) lies in this block.
    fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && bits(ip) & self.mask() == self.masked()
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An address as a number (IPv4 in the low 32 bits).
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

/// The reverse proxies whose `Forwarded` / `X-Forwarded-For` headers a server believes. Empty
/// by default: then no header is ever read and the peer is the TCP peer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<Net>,
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.nets.iter().map(|n| n.to_string()))
            .finish()
    }
}

/// Where one hop of a proxy chain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// An address; port 0 when the header gives none.
    Addr(SocketAddr),
    /// "unknown", an obfuscated identifier, or a `Forwarded` element without `for=`.
    Hidden,
    /// Not an address nor one of the above.
    Malformed,
}

/// What one header says about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// This is the client.
    Client(SocketAddr),
    /// The header does not tell (why, for the log).
    Untold(String),
}

impl TrustedProxies {
    /// Trusts `proxy`: an IP address ("127.0.0.1", "::1") or a CIDR block ("10.0.0.0/8",
    /// "fd00::/8"). A v4-mapped IPv6 address counts as the IPv4 address it maps, both here and
    /// for peers.
    pub fn add(&mut self, proxy: &str) -> Result<()> {
        let net = Net::parse(proxy).map_err(|why| {
            Error::invalid(format!(
                "trusted proxy {proxy:?} is not an IP address or a CIDR block such as \"10.0.0.0/8\" or \"::1/128\": {why}"
            ))
        })?;
        if !self.nets.contains(&net) {
            self.nets.push(net);
        }
        Ok(())
    }

    /// Whether no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// The client's address for a request head that arrived over a TCP connection from
    /// `peer`: `peer` itself unless it is a trusted proxy whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client (see the module's doc). Malformed values are
    /// ignored (the peer is kept) and logged at debug level; this never fails.
    pub fn client_address(&self, peer: SocketAddr, head: &[u8]) -> SocketAddr {
        if !self.contains(peer.ip()) {
            return peer;
        }
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut hs);
        if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
            // The handshake refuses it; nothing to resolve.
            return peer;
        }
        match self.resolve(req.headers) {
            Ok(Some(client)) => {
                ws_log!(
                    Level::Debug,
                    "client {client} connected through trusted proxy {peer}"
                );
                client
            }
            Ok(None) => peer,
            Err(why) => {
                ws_log!(
                    Level::Debug,
                    "request from trusted proxy {peer}: {why}; keeping the proxy's address"
                );
                peer
            }
        }
    }

    /// The client named by the headers: None when neither header is present, Err(why) when
    /// they do not tell (or disagree).
    fn resolve(
        &self,
        headers: &[httparse::Header<'_>],
    ) -> std::result::Result<Option<SocketAddr>, String> {
        let values = |name: &str| -> Vec<&[u8]> {
            headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
                .collect()
        };
        let fwd = values("Forwarded");
        let xff = values("X-Forwarded-For");
        let fwd = (!fwd.is_empty()).then(|| self.pick(&forwarded_chain(&fwd)));
        let xff = (!xff.is_empty()).then(|| self.pick(&xff_chain(&xff)));
        match (fwd, xff) {
            (None, None) => Ok(None),
            (Some(Answer::Client(a)), None) | (None, Some(Answer::Client(a))) => Ok(Some(a)),
            (Some(Answer::Untold(why)), None) => Err(format!("Forwarded: {why}")),
            (None, Some(Answer::Untold(why))) => Err(format!("X-Forwarded-For: {why}")),
            (Some(Answer::Client(f)), Some(Answer::Client(x))) if f.ip() == x.ip() => {
                Ok(Some(if f.port() != 0 { f } else { x }))
            }
            (Some(f), Some(x)) => Err(format!(
                "Forwarded ({}) and X-Forwarded-For ({}) do not name the same client, so the proxy did not write both",
                describe(&f),
                describe(&x)
            )),
        }
    }

    /// The right-most hop that is not a trusted proxy; if every hop is one, the left-most.
    fn pick(&self, chain: &[Node]) -> Answer {
        for (i, node) in chain.iter().enumerate().rev() {
            match *node {
                Node::Addr(a) if self.contains(a.ip()) && i > 0 => continue,
                Node::Addr(a) => return Answer::Client(a),
                Node::Hidden => {
                    return Answer::Untold(
                        "the client's address is hidden (unknown or obfuscated)".into(),
                    )
                }
                Node::Malformed => return Answer::Untold("malformed value".into()),
            }
        }
        Answer::Untold("empty value".into())
    }
}

fn describe(a: &Answer) -> String {
    match a {
        Answer::Client(c) => c.ip().to_string(),
        Answer::Untold(why) => why.clone(),
    }
}

/// Parses a node address: "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]" or
/// "[2001:db8::1]:80". An RFC 7239 obfuscated port ("_x") counts as no port.
fn node(text: &str) -> Node {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unknown") || text.starts_with('_') {
        return Node::Hidden;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Node::Malformed,
            },
            None => return Node::Malformed,
        }
    } else if text.matches(':').count() == 1 {
        let (h, p) = text.split_once(':').expect("one colon");
        (h, Some(p))
    } else {
        (text, None)
    };
    let ip: IpAddr = match host.parse() {
        Ok(ip) => ip,
        Err(_) => return Node::Malformed,
    };
    // Brackets are for IPv6 only (an IPv6 address with a port needs them: see above).
    if text.starts_with('[') && !ip.is_ipv6() {
        return Node::Malformed;
    }
    let port = match port {
        None => 0,
        Some(p) if p.starts_with('_') => 0,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(n) => n,
                Err(_) => return Node::Malformed,
            }
        }
        Some(_) => return Node::Malformed,
    };
    Node::Addr(SocketAddr::new(ip, port))
}

/// The hops of `X-Forwarded-For` header values, in order (empty list elements skipped).
fn xff_chain(values: &[&[u8]]) -> Vec<Node> {
    let mut chain = Vec::new();
    for v in values {
        let Ok(v) = std::str::from_utf8(v) else {
            chain.push(Node::Malformed);
            continue;
        };
        chain.extend(
            v.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|e| match node(e) {
                    // Only Forwarded defines obfuscated identifiers.
                    Node::Hidden if !e.eq_ignore_ascii_case("unknown") => Node::Malformed,
                    n => n,
                }),
        );
    }
    chain
}

/// The hops of `Forwarded` header values, in order: each element's `for=` parameter.
fn forwarded_chain(values: &[&[u8]]) -> Vec<Node> {
    let mut chain = Vec::new();
    for v in values {
        match std::str::from_utf8(v).ok().and_then(forwarded_elements) {
            Some(elements) => chain.extend(elements),
            // A line whose quoting is broken: none of its elements can be trusted, and a hop
            // at its place is unknown.
            None => chain.push(Node::Malformed),
        }
    }
    chain
}

/// Splits one `Forwarded` value into elements (by ',' outside quoted strings) and reads each
/// element's `for=`. None when a quoted string is not terminated.
fn forwarded_elements(value: &str) -> Option<Vec<Node>> {
    let mut out = Vec::new();
    for element in split_outside_quotes(value, ',')? {
        if element.trim().is_empty() {
            continue;
        }
        let mut found = None;
        let mut bad = false;
        for pair in split_outside_quotes(element, ';')? {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let Some((name, val)) = pair.split_once('=') else {
                bad = true;
                continue;
            };
            if !name.trim().eq_ignore_ascii_case("for") {
                continue;
            }
            if found.is_some() {
                // RFC 7239 §4: a parameter occurs at most once per element.
                bad = true;
            }
            found = Some(match unquote(val.trim()) {
                Some(v) => node(&v),
                None => Node::Malformed,
            });
        }
        out.push(match found {
            _ if bad => Node::Malformed,
            Some(n) => n,
            None => Node::Hidden,
        });
    }
    Some(out)
}

/// Splits `s` at `sep` where it is not inside a quoted string (with backslash escapes). None
/// when a quoted string does not end.
fn split_outside_quotes(s: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// A token as is, or the content of a quoted string with its escapes undone. None for a
/// quote in the wrong place.
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return (!v.contains('"')).then(|| v.to_string());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
