//! Origins taken apart and compared with the request's Host (RFC 6454 serialisation): what the
//! Origin check of `access.rs` matches against.

/// An origin taken apart: lower-case scheme and host, and the port if one was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Authority {
    pub(super) scheme: String,
    pub(super) host: String,
    pub(super) port: Option<u16>,
}

impl Authority {
    /// Parses `host[:port]`; an IPv6 address is in brackets. Nothing else is allowed (no
    /// user info, path, query or fragment).
    pub(super) fn parse_host_port(s: &str) -> Option<(String, Option<u16>)> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?),
            };
            (format!("[{h}]"), port)
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (s.to_string(), None),
            }
        };
        let bad = |c: char| {
            c.is_ascii_control() || c.is_whitespace() || "/?#@\\".contains(c) || !c.is_ascii()
        };
        if host.is_empty()
            || host.contains(bad)
            || host.trim_matches(['[', ']']).contains(['[', ']'])
        {
            return None;
        }
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                Some(p.parse::<u16>().ok()?)
            }
            Some(_) => return None,
        };
        Some((host.to_ascii_lowercase(), port))
    }

    /// Parses an origin, `scheme://host[:port]` (RFC 6454 serialisation).
    pub(super) fn origin(s: &str) -> Option<Self> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            return None;
        }
        let (host, port) = Self::parse_host_port(rest)?;
        Some(Authority {
            scheme: scheme.to_ascii_lowercase(),
            host,
            port,
        })
    }

    /// The port of a URL of this scheme that names none.
    pub(super) fn default_port(&self) -> Option<u16> {
        match self.scheme.as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        }
    }

    /// The port this origin means: the written one or its scheme's default.
    pub(super) fn effective_port(&self) -> Option<u16> {
        self.port.or(self.default_port())
    }
}

/// Whether an origin names the host:port of the request's Host header. Hosts compare
/// case-insensitively. A missing port and the default ports 80 and 443 count as the same, so
/// that a server behind a proxy that terminates TLS (Origin https://host, Host host) passes.
pub(super) fn same_origin(origin: &Authority, host: &str) -> bool {
    let Some((h, p)) = Authority::parse_host_port(host) else {
        return false;
    };
    let is_default = |p: Option<u16>| matches!(p, None | Some(80) | Some(443));
    let origin_port = if origin.port == origin.default_port() {
        None
    } else {
        origin.port
    };
    origin.host == h && (origin_port == p || (is_default(origin_port) && is_default(p)))
}
