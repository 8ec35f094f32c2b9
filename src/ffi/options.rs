//! The `ws_options` builder: each setter checks what it can at once (NULL, range, mode) and
//! answers WS_ERR_INVALID_ARGUMENT with `ws_last_error` naming the problem.

use std::os::raw::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::time::Duration;

use super::errors::{guard, guard_value};
use super::ptr::{self, UserPtr};
use super::types::{
    ws_callbacks, ws_conn_id, ws_context, ws_handshake_filter_fn, ws_mode, ws_on_sent_fn,
    ws_options, ws_status, RawDispatchMode, RawMode, RawSlowPolicy,
};
use crate::engine::{Config, Dispatch, Error, Mode, ProxyUrl, SlowPolicy};

mod acks;

/// What a `ws_options` pointer really points to.
pub struct Options {
    /// The engine settings being built.
    pub config: Config,
    /// The callback table and user pointer, if set.
    pub callbacks: Option<(ws_callbacks, UserPtr)>,
    /// Client: the written-messages callback and its user pointer, if set.
    pub on_sent: Option<(
        unsafe extern "C" fn(*mut ws_context, ws_conn_id, u64, *mut c_void),
        UserPtr,
    )>,
    /// Client: the acknowledged-messages callback and its user pointer, if set.
    pub on_acked: Option<(
        unsafe extern "C" fn(*mut ws_context, ws_conn_id, u64, *mut c_void),
        UserPtr,
    )>,
}

fn mode_of(raw: RawMode) -> Option<Mode> {
    match raw {
        x if x == ws_mode::WS_MODE_CLIENT as RawMode => Some(Mode::Client),
        x if x == ws_mode::WS_MODE_SERVER as RawMode => Some(Mode::Server),
        _ => None,
    }
}

/// Borrows the builder behind `o` and runs `f` on it.
pub(super) fn with_options(
    o: *mut ws_options,
    name: &str,
    f: impl FnOnce(&mut Options) -> Result<(), Error>,
) -> ws_status {
    guard(name, || f(ptr::try_mut(o, &format!("{name}: options"))?))
}

pub(super) fn require_mode(opts: &Options, mode: Mode, what: &str) -> Result<(), Error> {
    if opts.config.mode == mode {
        Ok(())
    } else {
        let m = if mode == Mode::Client {
            "client"
        } else {
            "server"
        };
        Err(Error::invalid(format!("{what} applies to {m} mode only")))
    }
}

/// Checks an HTTP token (header names, subprotocol names): visible ASCII without separators.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// The smallest budget accepted: one read buffer's worth, so a single connection can make
/// progress.
const MIN_BUFFERED_BYTES: usize = 64 * 1024;

/// A string option that reaches the wire (request line, a header, the TLS server name): CR, LF
/// or NUL in it could end a line early and inject headers, so they are refused, naming `what`.
/// Every setter of such a string reads it through here.
fn wire_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    let s = ptr::try_str(p, what)?;
    if let Some(b) = s.bytes().find(|b| matches!(b, b'\r' | b'\n' | 0)) {
        let name = match b {
            b'\r' => "CR (carriage return)",
            b'\n' => "LF (line feed)",
            _ => "NUL",
        };
        return Err(Error::invalid(format!(
            "{what} {s:?} contains {name}: strings sent in the handshake may not contain CR, LF \
             or NUL"
        )));
    }
    Ok(s)
}

fn path_arg(p: *const c_char, what: &str) -> Result<PathBuf, Error> {
    let s = ptr::try_str(p, what)?;
    if s.is_empty() {
        return Err(Error::invalid(format!("{what} is empty")));
    }
    Ok(PathBuf::from(s))
}

/// Creates a builder for a client or server context with the documented defaults; NULL for a
/// mode outside the enum. Free it with `ws_options_free` (a context does not keep it).
#[no_mangle]
pub extern "C" fn ws_options_new(mode: RawMode) -> *mut ws_options {
    super::errors::quiet_panics();
    guard_value(std::ptr::null_mut(), || match mode_of(mode) {
        Some(m) => ptr::to_c_box::<ws_options>(Options {
            config: Config::new(m),
            callbacks: None,
            on_sent: None,
            on_acked: None,
        }),
        None => {
            super::errors::set_last_error(
                "ws_options_new: mode is neither WS_MODE_CLIENT nor WS_MODE_SERVER",
            );
            std::ptr::null_mut()
        }
    })
}

/// Frees a builder; NULL is ignored.
#[no_mangle]
pub extern "C" fn ws_options_free(o: *mut ws_options) {
    guard_value((), || ptr::free_box(o))
}

/// Client: host name or address to connect to (default "127.0.0.1"); server: address to bind
/// (default "0.0.0.0"). No spaces or control characters (CR, LF: WS_ERR_INVALID_ARGUMENT).
#[no_mangle]
pub extern "C" fn ws_options_set_address(o: *mut ws_options, host: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_address", |opts| {
        let h = wire_arg(host, "address")?;
        if h.is_empty() {
            return Err(Error::invalid("address is empty"));
        }
        if h.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::invalid(format!(
                "address {h:?} contains a space or a control character"
            )));
        }
        opts.config.address = h.to_string();
        Ok(())
    })
}

/// TCP port: client 1..65535; server 0..65535, 0 = any free port (see `ws_local_port`).
#[no_mangle]
pub extern "C" fn ws_options_set_port(o: *mut ws_options, port: c_int) -> ws_status {
    with_options(o, "ws_options_set_port", |opts| {
        let low = if opts.config.mode == Mode::Server {
            0
        } else {
            1
        };
        if port < low || port > 65535 {
            return Err(Error::invalid(format!(
                "port {port} is out of range {low}..65535"
            )));
        }
        opts.config.port = port as u16;
        Ok(())
    })
}

/// Request path (client) or the only path accepted (server); must start with '/', no spaces or
/// control characters. Default "/".
#[no_mangle]
pub extern "C" fn ws_options_set_path(o: *mut ws_options, path: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_path", |opts| {
        let p = wire_arg(path, "path")?;
        if !p.starts_with('/') || p.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::invalid(format!(
                "path {p:?} must start with '/' and contain no spaces or control characters"
            )));
        }
        opts.config.path = p.to_string();
        Ok(())
    })
}

/// Sec-WebSocket-Protocol name; NULL or "" = none. A server with a protocol accepts clients that
/// offer it or offer none, and refuses (HTTP 400) clients that offer only others.
#[no_mangle]
pub extern "C" fn ws_options_set_protocol(o: *mut ws_options, name: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_protocol", |opts| {
        if name.is_null() {
            opts.config.protocol = None;
            return Ok(());
        }
        let n = wire_arg(name, "protocol")?;
        if n.is_empty() {
            opts.config.protocol = None;
        } else if is_token(n) {
            opts.config.protocol = Some(n.to_string());
        } else {
            return Err(Error::invalid(format!(
                "protocol {n:?} is not a valid token"
            )));
        }
        Ok(())
    })
}

/// Client: adds a header to the opening handshake (e.g. Authorization). Headers the protocol
/// itself sets (Host, Upgrade, Connection, Sec-WebSocket-*) are refused, and so are CR and LF in
/// the name or value (WS_ERR_INVALID_ARGUMENT).
#[no_mangle]
pub extern "C" fn ws_options_add_header(
    o: *mut ws_options,
    name: *const c_char,
    value: *const c_char,
) -> ws_status {
    with_options(o, "ws_options_add_header", |opts| {
        require_mode(opts, Mode::Client, "ws_options_add_header")?;
        let (n, v) = (
            wire_arg(name, "header name")?,
            wire_arg(value, "header value")?,
        );
        if !is_token(n) {
            return Err(Error::invalid(format!(
                "header name {n:?} is not a valid token"
            )));
        }
        let lower = n.to_ascii_lowercase();
        if ["host", "upgrade", "connection", "content-length"].contains(&lower.as_str())
            || lower.starts_with("sec-websocket-")
        {
            return Err(Error::invalid(format!(
                "header {n} is set by the protocol itself"
            )));
        }
        opts.config.headers.push((n.to_string(), v.to_string()));
        Ok(())
    })
}

/// Turns TLS (wss://) on or off; default off.
#[no_mangle]
pub extern "C" fn ws_options_set_tls(o: *mut ws_options, enable: c_int) -> ws_status {
    with_options(o, "ws_options_set_tls", |opts| {
        opts.config.tls = enable != 0;
        Ok(())
    })
}

/// PEM certificate: server, its certificate (a chain may follow); client, a client certificate.
#[no_mangle]
pub extern "C" fn ws_options_set_cert(o: *mut ws_options, pem_path: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_cert", |opts| {
        opts.config.cert = Some(path_arg(pem_path, "cert")?);
        Ok(())
    })
}

/// PEM private key for the certificate.
#[no_mangle]
pub extern "C" fn ws_options_set_key(o: *mut ws_options, pem_path: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_key", |opts| {
        opts.config.key = Some(path_arg(pem_path, "key")?);
        Ok(())
    })
}

/// PEM CA bundle: client, extra trust anchors; server, client certificates must chain to it.
#[no_mangle]
pub extern "C" fn ws_options_set_cacert(o: *mut ws_options, pem_path: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_cacert", |opts| {
        opts.config.cacert = Some(path_arg(pem_path, "cacert")?);
        Ok(())
    })
}

/// Client only: accept a server certificate that cannot be verified (self-signed). Default 0.
#[no_mangle]
pub extern "C" fn ws_options_set_allow_self_signed(o: *mut ws_options, allow: c_int) -> ws_status {
    with_options(o, "ws_options_set_allow_self_signed", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_allow_self_signed")?;
        opts.config.allow_self_signed = allow != 0;
        Ok(())
    })
}

/// Largest message sent or received, in bytes (default 16 MiB; 1 .. 2^31).
#[no_mangle]
pub extern "C" fn ws_options_set_max_message_size(o: *mut ws_options, bytes: usize) -> ws_status {
    with_options(o, "ws_options_set_max_message_size", |opts| {
        if bytes == 0 || bytes > (1 << 31) {
            return Err(Error::invalid(format!(
                "max_message_size {bytes} is out of range 1..2147483648"
            )));
        }
        opts.config.max_message_size = bytes;
        Ok(())
    })
}

/// Messages a connection's queue holds (client: the context's queue); default 65536. On a
/// server it bounds, separately, the messages ws_send queued for one connection and the
/// broadcasts a connection may be behind before the slow policy applies to it.
#[no_mangle]
pub extern "C" fn ws_options_set_queue_capacity(o: *mut ws_options, messages: usize) -> ws_status {
    with_options(o, "ws_options_set_queue_capacity", |opts| {
        if messages == 0 || messages > (1 << 30) {
            return Err(Error::invalid(format!(
                "queue_capacity {messages} is out of range 1..1073741824"
            )));
        }
        opts.config.queue_capacity = messages;
        Ok(())
    })
}

/// Keepalive ping interval in ms; 0 = off; default 30000. Pings from the peer are always
/// answered; a peer that does not read its pongs has at most one waiting (the latest ping's,
/// RFC 6455 5.5.3), is read no more until it reads, and is closed by keepalive.
#[no_mangle]
pub extern "C" fn ws_options_set_ping_interval_ms(o: *mut ws_options, ms: u32) -> ws_status {
    with_options(o, "ws_options_set_ping_interval_ms", |opts| {
        opts.config.ping_interval = Duration::from_millis(ms.into());
        Ok(())
    })
}

/// How long a pong may take before the connection is closed as dead; default 10000 ms.
#[no_mangle]
pub extern "C" fn ws_options_set_pong_timeout_ms(o: *mut ws_options, ms: u32) -> ws_status {
    with_options(o, "ws_options_set_pong_timeout_ms", |opts| {
        if ms == 0 {
            return Err(Error::invalid("pong_timeout_ms must be above 0"));
        }
        opts.config.pong_timeout = Duration::from_millis(ms.into());
        Ok(())
    })
}

/// Client reconnect delays: a step that doubles from min_ms up to max_ms, each delay drawn at
/// random between half the step and the step (jitter), so the first is 50..100 ms by default.
/// Every failed attempt (TCP, TLS, handshake, or a connection that fails soon after it opened)
/// takes the next, longer step; the sequence starts over only after a connection stayed open
/// for 5 s, so a server that accepts and then fails every connection is not hammered.
/// Default 100 .. 30000.
#[no_mangle]
pub extern "C" fn ws_options_set_reconnect_backoff_ms(
    o: *mut ws_options,
    min_ms: u32,
    max_ms: u32,
) -> ws_status {
    with_options(o, "ws_options_set_reconnect_backoff_ms", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_reconnect_backoff_ms")?;
        if min_ms == 0 || max_ms < min_ms {
            return Err(Error::invalid(format!(
                "reconnect backoff {min_ms}..{max_ms} needs 0 < min <= max"
            )));
        }
        opts.config.backoff_min = Duration::from_millis(min_ms.into());
        opts.config.backoff_max = Duration::from_millis(max_ms.into());
        Ok(())
    })
}

/// Time allowed for TCP connect, TLS and the WebSocket handshake; default 10000 ms. A server
/// also answers a request head above 16 KiB with HTTP 431 (however its bytes arrive), a
/// version below HTTP/1.1 with 505, and a request without exactly one Sec-WebSocket-Key of
/// 16 base64-encoded bytes with 400.
#[no_mangle]
pub extern "C" fn ws_options_set_handshake_timeout_ms(o: *mut ws_options, ms: u32) -> ws_status {
    with_options(o, "ws_options_set_handshake_timeout_ms", |opts| {
        if ms == 0 {
            return Err(Error::invalid("handshake_timeout_ms must be above 0"));
        }
        opts.config.handshake_timeout = Duration::from_millis(ms.into());
        Ok(())
    })
}

/// Server only: most connections at once (handshaking ones included); default 10000. Clients
/// beyond it get HTTP 503 and are closed.
#[no_mangle]
pub extern "C" fn ws_options_set_max_connections(o: *mut ws_options, n: u32) -> ws_status {
    with_options(o, "ws_options_set_max_connections", |opts| {
        require_mode(opts, Mode::Server, "ws_options_set_max_connections")?;
        if n == 0 {
            return Err(Error::invalid("max_connections must be above 0"));
        }
        opts.config.max_connections = n as usize;
        Ok(())
    })
}

/// Bytes the context may hold for incomplete incoming messages and read buffers, across all its
/// connections (default 256 MiB; at least 64 KiB). When the
/// budget is reached, the connection holding the most is closed with 1008 (policy violation),
/// reported through on_error and counted in `ws_stats.errors`; `ws_stats.buffered_bytes` shows
/// what is held now. It bounds what hostile peers sending partial messages can make the
/// context spend, well below max_connections x max_message_size.
#[no_mangle]
pub extern "C" fn ws_options_set_max_buffered_bytes(o: *mut ws_options, bytes: usize) -> ws_status {
    with_options(o, "ws_options_set_max_buffered_bytes", |opts| {
        if bytes < MIN_BUFFERED_BYTES {
            return Err(Error::invalid(format!(
                "max_buffered_bytes {bytes} is below the minimum {MIN_BUFFERED_BYTES}"
            )));
        }
        opts.config.max_buffered_bytes = bytes;
        Ok(())
    })
}

/// How long an incoming message may stay incomplete (a fragmented message, or a frame whose
/// bytes stopped arriving) before its connection is closed with 1008; default 60000 ms; 0 = no
/// limit.
#[no_mangle]
pub extern "C" fn ws_options_set_message_timeout_ms(o: *mut ws_options, ms: u32) -> ws_status {
    with_options(o, "ws_options_set_message_timeout_ms", |opts| {
        opts.config.message_timeout = Duration::from_millis(ms.into());
        Ok(())
    })
}

/// Server only: what a broadcast does with a subscriber whose queue is full. A subscriber that
/// asked for replay (`?since=`) is disconnected under either policy (docs/replay.md).
#[no_mangle]
pub extern "C" fn ws_options_set_slow_policy(o: *mut ws_options, p: RawSlowPolicy) -> ws_status {
    with_options(o, "ws_options_set_slow_policy", |opts| {
        require_mode(opts, Mode::Server, "ws_options_set_slow_policy")?;
        opts.config.slow_policy = match p {
            0 => SlowPolicy::Disconnect,
            1 => SlowPolicy::DropOldest,
            _ => {
                return Err(Error::invalid(format!(
                    "slow policy {p} is not a ws_slow_policy"
                )))
            }
        };
        Ok(())
    })
}

/// Server only: a file served (text/html) to plain HTTP GETs of the WebSocket path (and of
/// /index.html when the path is "/"); NULL = none (such requests get 426 Upgrade Required).
#[no_mangle]
pub extern "C" fn ws_options_set_index_html(o: *mut ws_options, path: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_index_html", |opts| {
        require_mode(opts, Mode::Server, "ws_options_set_index_html")?;
        opts.config.index_html = if path.is_null() {
            None
        } else {
            Some(path_arg(path, "index_html")?)
        };
        Ok(())
    })
}

/// Server only: lets browser pages from `origin` open a WebSocket: "scheme://host[:port]"
/// (e.g. "https://example.org"; compared exactly, the host case-insensitively, a default port
/// written or not), or "*" for any origin. Repeatable. Without any, a request whose Origin
/// header names another host:port than its Host header is refused with HTTP 403 (cross-site
/// WebSocket hijacking); once one is set, only the listed origins get in (list the server's own
/// page too). Requests without Origin (non-browser clients) are never refused for it. "null"
/// and origins with a path are refused with WS_ERR_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn ws_options_add_allowed_origin(
    o: *mut ws_options,
    origin: *const c_char,
) -> ws_status {
    with_options(o, "ws_options_add_allowed_origin", |opts| {
        require_mode(opts, Mode::Server, "ws_options_add_allowed_origin")?;
        // SAFETY: NULL or a NUL-terminated string.
        let s = ptr::try_str(origin, "origin")?;
        opts.config.access.allow_origin(s)
    })
}

/// Server only: requires every WebSocket request to carry `Authorization: Bearer <token>` or
/// the query parameter `access_token=<token>` (RFC 6750; browsers cannot set headers on a
/// WebSocket). Repeatable: any of the tokens is accepted. A token is letters, digits and
/// `-._~+/`, then optional '='. Missing: 401 with `WWW-Authenticate: Bearer`; wrong: 401 with
/// `error="invalid_token"`; sent twice or both ways: 400 `error="invalid_request"`. Tokens are
/// compared in constant time and never logged; only their SHA-256 digest is kept. Default: none.
#[no_mangle]
pub extern "C" fn ws_options_add_bearer_token(
    o: *mut ws_options,
    token: *const c_char,
) -> ws_status {
    with_options(o, "ws_options_add_bearer_token", |opts| {
        require_mode(opts, Mode::Server, "ws_options_add_bearer_token")?;
        // SAFETY: NULL or a NUL-terminated string.
        let t = ptr::try_str(token, "token")?;
        opts.config.access.add_bearer_token(t)
    })
}

/// Server only: `filter(req, user)` decides on each WebSocket request after the path, Origin
/// and token checks passed: 0 accepts, 400..599 refuses with that HTTP status, anything else
/// refuses with 500 and logs an error. It reads the request with `ws_request_path`,
/// `ws_request_query`, `ws_request_origin`, `ws_request_header` and `ws_request_peer_address`.
/// It runs on the context's I/O thread, whatever the dispatch mode (the answer is needed there
/// before the handshake can go on): it must be quick (it holds up every connection of the
/// context), ws_context_destroy inside it is refused as inside a callback, and under
/// WS_DISPATCH_MANUAL it runs concurrently with ws_dispatch, so `user` must be safe to use from
/// both threads. NULL removes the filter (default: none).
#[no_mangle]
pub extern "C" fn ws_options_set_handshake_filter(
    o: *mut ws_options,
    filter: ws_handshake_filter_fn,
    user: *mut c_void,
) -> ws_status {
    with_options(o, "ws_options_set_handshake_filter", |opts| {
        require_mode(opts, Mode::Server, "ws_options_set_handshake_filter")?;
        opts.config
            .access
            .set_filter(filter.map(|f| super::handshake_request::c_filter(f, user)));
        Ok(())
    })
}

/// Server only: trusts the reverse proxy at `proxy`, an IP address ("127.0.0.1", "::1") or a
/// CIDR block ("10.0.0.0/8", "fd00::/8"; host bits under the mask are refused). Repeatable.
/// Default: none, and then no header is ever read: the peer is the TCP peer.
///
/// When a connection's TCP peer is a trusted proxy, the client's address is taken from the
/// request's `Forwarded` (RFC 7239, the `for=` parameter) or `X-Forwarded-For` header: the
/// right-most address that is not itself a trusted proxy (the left-most if all are), header
/// lines of the same name read as one list in order. `ws_peer_address`,
/// `ws_request_peer_address` in the handshake filter, and log messages then give that address,
/// with port 0 when the header has none. When only one of the two headers is present it is
/// used; when both are, they must name the same client (the port then comes from `Forwarded`),
/// else neither is believed: a proxy that maintains one header passes a client's own copy of
/// the other through, and preferring either would let the client spoof its address. A value
/// that is malformed, "unknown" or obfuscated where the client should be keeps the proxy's
/// address (logged at WS_LOG_DEBUG). Headers from peers that are not trusted are ignored.
///
/// The proxy must pass the client's `Host` header on (nginx: `proxy_set_header Host
/// $http_host;`, which keeps the port): the default Origin check compares `Origin` with `Host`.
/// WS_ERR_INVALID_ARGUMENT (with ws_last_error saying why) for text that is not an address or
/// block, and in client mode.
#[no_mangle]
pub extern "C" fn ws_options_add_trusted_proxy(
    o: *mut ws_options,
    proxy: *const c_char,
) -> ws_status {
    with_options(o, "ws_options_add_trusted_proxy", |opts| {
        require_mode(opts, Mode::Server, "ws_options_add_trusted_proxy")?;
        // SAFETY: NULL or a NUL-terminated string.
        let p = ptr::try_str(proxy, "proxy")?;
        opts.config.trusted_proxies.add(p)
    })
}

/// Client: connect through an HTTP CONNECT proxy, `"http://[user:password@]host[:port]"`
/// (port default 1080; user and password may be %-encoded). For ws:// and wss:// alike: the
/// client connects to the proxy, sends `CONNECT host:port` (with `Proxy-Authorization: Basic`
/// when the URL has credentials) and waits for a 2xx answer (its head at most 16 KiB, within
/// the handshake timeout); TLS (wss://) and the WebSocket handshake then run through the
/// tunnel, and the server's certificate is checked against the server's own host name (SNI
/// too), never the proxy's. Only the `http://` proxy scheme is supported (no TLS to the proxy,
/// no SOCKS). A proxy's refusal (407, 403, any answer but 2xx, a proxy that closes) reaches
/// on_error as WS_ERR_IO with the proxy's status in the message ("proxy answered 407 Proxy
/// Authentication Required"), and the client tries again after its backoff like after any
/// failed attempt. Credentials are never logged. NULL removes a proxy set earlier. This
/// setting wins over ws_options_set_proxy_from_env. Default: none.
/// WS_ERR_INVALID_ARGUMENT (ws_last_error says why) for another scheme, a malformed URL, a
/// control character (CR, LF, ...) or a space, and in server mode.
#[no_mangle]
pub extern "C" fn ws_options_set_proxy(o: *mut ws_options, url: *const c_char) -> ws_status {
    with_options(o, "ws_options_set_proxy", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_proxy")?;
        let Some(u) = ptr::try_opt_str(url, "proxy URL")? else {
            opts.config.proxy = None;
            return Ok(());
        };
        // The reason never quotes the URL: it may hold a password.
        let p =
            ProxyUrl::parse(u, false).map_err(|why| Error::invalid(format!("proxy URL: {why}")))?;
        opts.config.proxy = Some(p);
        Ok(())
    })
}

/// Client: when no proxy is set with ws_options_set_proxy, take one from the environment as
/// curl does (default 0, off): `https_proxy` for wss://, `http_proxy` for ws:// (the upper-case
/// names `HTTPS_PROXY` / `HTTP_PROXY` when the lower-case one is unset or empty; the scheme may
/// be left out), unless `no_proxy` (or `NO_PROXY`) names the server: a comma-separated list of
/// host names, domain suffixes (with or without a leading dot: `example.com` and `.example.com`
/// both match `ws.example.com`), IP addresses compared as text, or `*` for every host. The
/// environment is read once, by ws_context_create (later changes are not seen); a malformed
/// proxy variable makes ws_context_create fail with WS_ERR_INVALID_ARGUMENT.
/// WS_ERR_INVALID_ARGUMENT in server mode.
#[no_mangle]
pub extern "C" fn ws_options_set_proxy_from_env(o: *mut ws_options, enable: c_int) -> ws_status {
    with_options(o, "ws_options_set_proxy_from_env", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_proxy_from_env")?;
        opts.config.proxy_from_env = enable != 0;
        Ok(())
    })
}

/// permessage-deflate (RFC 7692): 0 = off (the default, client and server), 1..9 = the zlib
/// level messages are compressed with (1: fastest, the recommended level for log lines; 9:
/// smallest). A client offers it; a server accepts it when a client offers it (every browser
/// does) and always answers server_no_context_takeover, so a broadcast is compressed once for
/// all its deflate subscribers. Incoming compressed messages are inflated within
/// ws_options_set_max_message_size (a larger one closes the connection with 1009 before it is
/// inflated past the limit). Memory: a compressed server connection holds about 48 KiB (its
/// inflater) once its client sent a compressed message, plus one compressor of about 330 KiB
/// per server context; a client holds its compressor (about 320 KiB) and inflater. Both count
/// in ws_options_set_max_buffered_bytes (a client offers compression only when that budget is
/// at least twice what it needs, about 740 KiB; the default is 256 MiB).
/// `ws_stats.connections_compressed` counts the open connections that negotiated it. With
/// acknowledgements, a client keeps and resends its messages uncompressed (compressed again by
/// the next connection); with replay, history broadcast before the first deflate subscriber
/// came is sent to it uncompressed. Off by default: it costs CPU on every message and memory
/// per connection, and pays where bandwidth is scarce (see docs/compression.md).
/// WS_ERR_INVALID_ARGUMENT for a level outside 0..9.
#[no_mangle]
pub extern "C" fn ws_options_set_compression(o: *mut ws_options, level: c_int) -> ws_status {
    with_options(o, "ws_options_set_compression", |opts| {
        if !(0..=9).contains(&level) {
            return Err(Error::invalid(format!(
                "compression level {level} is out of range 0..9"
            )));
        }
        opts.config.compression = level as u32;
        Ok(())
    })
}

/// Where callbacks run: WS_DISPATCH_THREAD (default) or WS_DISPATCH_MANUAL.
#[no_mangle]
pub extern "C" fn ws_options_set_dispatch(o: *mut ws_options, d: RawDispatchMode) -> ws_status {
    with_options(o, "ws_options_set_dispatch", |opts| {
        opts.config.dispatch = match d {
            0 => Dispatch::Thread,
            1 => Dispatch::Manual,
            _ => {
                return Err(Error::invalid(format!(
                    "dispatch mode {d} is not a ws_dispatch_mode"
                )))
            }
        };
        Ok(())
    })
}

/// Copies the callback table (members may be NULL) and the user pointer passed to each callback.
#[no_mangle]
pub extern "C" fn ws_options_set_callbacks(
    o: *mut ws_options,
    cbs: *const ws_callbacks,
    user: *mut c_void,
) -> ws_status {
    with_options(o, "ws_options_set_callbacks", |opts| {
        opts.callbacks = Some((ptr::try_copy(cbs, "callbacks")?, UserPtr::new(user)));
        Ok(())
    })
}

/// Client only: `fn(ctx, conn, upto_seq, user)` is called when every message the context
/// accepted with a sequence number up to and including `upto_seq` (ws_send_seq answers the
/// number; ws_send and ws_broadcast number their messages the same way) has been written
/// completely to the socket: handed to the kernel (TLS: encrypted by OpenSSL and its whole
/// batch handed to the kernel). The bytes are then in the local socket buffer, not yet at the
/// peer. It runs where the other callbacks run (the I/O thread, or ws_dispatch under
/// WS_DISPATCH_MANUAL), at most once per write round (the reports are coalesced: `upto_seq`
/// grows by any amount, never shrinks or repeats), and before the on_close of the connection
/// that wrote them. It never covers a message that is not written: one queued or carried over
/// to the next connection is covered once that one writes it, and one dropped (left unsent at
/// ws_context_destroy, counted in its `unsent_out`) is never covered. `user` is passed to each
/// call (it need not be the callback table's). NULL removes it (default: none;
/// ws_stats.messages_sent_seq gives the same number to a poller).
/// A server context answers WS_ERR_INVALID_ARGUMENT: its messages are not numbered.
#[no_mangle]
pub extern "C" fn ws_options_set_on_sent(
    o: *mut ws_options,
    on_sent: ws_on_sent_fn,
    user: *mut c_void,
) -> ws_status {
    with_options(o, "ws_options_set_on_sent", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_on_sent")?;
        opts.on_sent = on_sent.map(|f| (f, UserPtr::new(user)));
        opts.config.report_sent = opts.on_sent.is_some();
        Ok(())
    })
}
