//! The HTTP opening handshake of RFC 6455, both sides, over bytes already read (the connection
//! does the I/O). Key derivation comes from tungstenite.

use tungstenite::handshake::derive_accept_key;

use super::access::Refusal;
use super::deflate::{negotiate, Agreed};

/// Largest request or response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Where the head of an HTTP message ends (after the blank line), if it is complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn header<'a>(headers: &'a [httparse::Header<'a>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// A client's opening request.
pub fn client_request(
    host: &str,
    port: u16,
    tls: bool,
    path: &str,
    protocol: Option<&str>,
    headers: &[(String, String)],
    key: &str,
) -> Vec<u8> {
    let default_port = if tls { 443 } else { 80 };
    let host_value = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: {host_value}");
    if port != default_port {
        r.push_str(&format!(":{port}"));
    }
    r.push_str("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n");
    r.push_str(&format!("Sec-WebSocket-Key: {key}\r\n"));
    if let Some(p) = protocol {
        r.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// The values of every header `name` in a request head (none if it does not parse).
pub fn header_values(head: &[u8], name: &str) -> Vec<String> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hs);
    if req.parse(head).is_err() {
        return Vec::new();
    }
    req.headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok().map(str::to_string))
        .collect()
}

/// Checks a server's response head against the request's key and protocol, and the
/// extensions it selected against our offer (`offered_deflate`: we offered permessage-deflate);
/// answers what permessage-deflate agreement it holds, if any.
pub fn check_response(
    head: &[u8],
    key: &str,
    protocol: Option<&str>,
    offered_deflate: bool,
) -> Result<Option<Agreed>, String> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut hs);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("malformed HTTP response to the WebSocket handshake".into()),
    }
    let code = resp.code.unwrap_or(0);
    if code != 101 {
        return Err(format!(
            "server answered HTTP {code} {} instead of 101 Switching Protocols",
            resp.reason.unwrap_or("")
        ));
    }
    let h = resp.headers;
    if !has_token(header(h, "Upgrade"), "websocket")
        || !has_token(header(h, "Connection"), "upgrade")
    {
        return Err("handshake response lacks Upgrade: websocket / Connection: Upgrade".into());
    }
    if header(h, "Sec-WebSocket-Accept") != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err("handshake response has a wrong Sec-WebSocket-Accept".into());
    }
    let extensions = h
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .filter_map(|x| std::str::from_utf8(x.value).ok());
    let agreed = negotiate::client_agree(extensions, offered_deflate)?;
    match (header(h, "Sec-WebSocket-Protocol"), protocol) {
        (Some(got), Some(want)) if got.trim() != want => {
            Err(format!("server selected subprotocol {got:?}, not {want:?}"))
        }
        (Some(got), None) => Err(format!(
            "server selected subprotocol {got:?} that was not offered"
        )),
        _ => Ok(agreed),
    }
}

/// What a server does with a request head.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerReply {
    /// Upgrade: send this 101 response, then speak WebSocket.
    Accept(Vec<u8>),
    /// Plain HTTP GET of the page: serve the index file.
    ServeIndex,
    /// Refuse with this response, then close.
    Refuse(Vec<u8>, String),
}

/// Adds `name: value` to a complete response head (before the blank line that ends it): the
/// 101's extension, acknowledgement and sequence headers are decided after it is built.
pub fn add_response_header(resp: &mut Vec<u8>, name: &str, value: &str) {
    debug_assert!(resp.ends_with(b"\r\n\r\n"));
    let at = resp.len() - 2;
    resp.splice(at..at, format!("{name}: {value}\r\n").into_bytes());
}

/// A complete HTTP response with a small text body, closing the connection.
pub fn http_response(status: &str, extra: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
}

/// The answer to a client over max_connections.
pub fn too_many_connections() -> Vec<u8> {
    http_response(
        "503 Service Unavailable",
        "Retry-After: 1\r\n",
        "too many connections\n",
    )
}

/// The answer to a request whose head is above MAX_HEAD.
pub fn head_too_large() -> Vec<u8> {
    http_response(
        "431 Request Header Fields Too Large",
        "",
        "request head larger than 16 KiB\n",
    )
}

/// Whether `key` is a Sec-WebSocket-Key as RFC 6455 4.1 requires: base64 of 16 bytes, which is
/// 22 base64 characters and "==".
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[22..] == *b"=="
        && b[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// The origin-form part (path and query) of a request target. RFC 7230 5.3.2: a server must
/// accept the absolute form (`GET http://host:port/path?q`), whose path is matched like any.
fn origin_form(target: &str) -> &str {
    let Some((scheme, rest)) = target.split_once("://") else {
        return target;
    };
    if !["http", "https", "ws", "wss"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
    {
        return target;
    }
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        // "http://host?q" has an empty path, which is "/" (RFC 7230 5.3.1).
        Some(_) | None => "/",
    }
}

fn refuse(status: &str, extra: &str, why: impl Into<String>) -> ServerReply {
    let why = why.into();
    ServerReply::Refuse(http_response(status, extra, &format!("{why}\n")), why)
}

/// The access decision on a valid upgrade request for the server's path, given the path, the
/// query (without '?') and the headers; see `access::AccessRules::check`.
pub type Admit<'f> = &'f dyn Fn(&str, &str, &[httparse::Header<'_>]) -> Result<(), Refusal>;

/// Decides on a client's request head. `protocol` is the server's subprotocol: a client offering
/// it gets it, a client offering none is accepted without one, a client offering only others is
/// refused. `admit` runs last, on a request that is otherwise a valid upgrade.
pub fn server_reply(
    head: &[u8],
    path: &str,
    protocol: Option<&str>,
    has_index: bool,
    admit: Admit<'_>,
) -> ServerReply {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hs);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::Version) => {
            return refuse(
                "505 HTTP Version Not Supported",
                "",
                "WebSocket needs HTTP/1.1",
            )
        }
        _ => return refuse("400 Bad Request", "", "malformed HTTP request"),
    }
    if req.version != Some(1) {
        // RFC 6455 4.1: the opening handshake is an HTTP/1.1 (or later) request.
        return refuse(
            "505 HTTP Version Not Supported",
            "",
            "WebSocket needs HTTP/1.1",
        );
    }
    if req.method != Some("GET") {
        return refuse(
            "405 Method Not Allowed",
            "Allow: GET\r\n",
            "only GET is supported",
        );
    }
    let target = origin_form(req.path.unwrap_or(""));
    let target_path = target.split('?').next().unwrap_or("");
    let h = req.headers;
    let upgrade = has_token(header(h, "Upgrade"), "websocket");
    if !upgrade {
        // The page is served only where its WebSocket lives, so that a page that derives its
        // ws:// URL from its own location connects to the right path.
        if has_index && (target_path == path || (path == "/" && target_path == "/index.html")) {
            return ServerReply::ServeIndex;
        }
        if target_path != path {
            return refuse("404 Not Found", "", format!("no resource at {target_path}"));
        }
        return refuse(
            "426 Upgrade Required",
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            "this is a WebSocket endpoint",
        );
    }
    if target_path != path {
        return refuse(
            "404 Not Found",
            "",
            format!("no WebSocket endpoint at {target_path}"),
        );
    }
    if !has_token(header(h, "Connection"), "upgrade") {
        return refuse("400 Bad Request", "", "Connection: Upgrade is missing");
    }
    if header(h, "Sec-WebSocket-Version").map(str::trim) != Some("13") {
        return refuse(
            "426 Upgrade Required",
            "Sec-WebSocket-Version: 13\r\n",
            "only WebSocket version 13 is supported",
        );
    }
    let mut keys = h
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case("Sec-WebSocket-Key"));
    let key = match (keys.next(), keys.next()) {
        (None, _) => return refuse("400 Bad Request", "", "Sec-WebSocket-Key is missing"),
        (Some(_), Some(_)) => {
            return refuse("400 Bad Request", "", "more than one Sec-WebSocket-Key")
        }
        (Some(k), None) => match std::str::from_utf8(k.value).map(str::trim) {
            Ok(k) if valid_key(k) => k,
            _ => {
                return refuse(
                    "400 Bad Request",
                    "",
                    "Sec-WebSocket-Key is not base64 of 16 bytes",
                )
            }
        },
    };
    let offered: Vec<&str> = h
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case("Sec-WebSocket-Protocol"))
        .filter_map(|x| std::str::from_utf8(x.value).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let chosen = match protocol {
        Some(p) if offered.contains(&p) => Some(p),
        Some(p) if !offered.is_empty() => {
            return refuse(
                "400 Bad Request",
                "",
                format!(
                    "subprotocol {p:?} was not offered (offered: {})",
                    offered.join(", ")
                ),
            )
        }
        Some(_) => None,
        None if !offered.is_empty() => {
            return refuse(
                "400 Bad Request",
                "",
                format!(
                    "this endpoint speaks no subprotocol (offered: {})",
                    offered.join(", ")
                ),
            )
        }
        None => None,
    };
    let query = target.split_once('?').map_or("", |(_, q)| q);
    if let Err(r) = admit(target_path, query, h) {
        return refuse(&r.status_line(), &r.headers, r.why);
    }
    let mut r = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = chosen {
        r.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    r.push_str("\r\n");
    ServerReply::Accept(r.into_bytes())
}

#[cfg(test)]
mod tests;
