//! Settings of one context, with the contract's defaults. Plain data: the FFI builder fills it,
//! `Context::create` validates the parts that depend on each other.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::access::AccessRules;
use super::acks::{AckMode, DEFAULT_ACK_WINDOW};
use super::forwarded::TrustedProxies;
use super::log::Target;
use super::proxy::ProxyUrl;

/// Client or server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Connects out and reconnects with backoff.
    Client,
    /// Listens for clients.
    Server,
}

/// Where callbacks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// On the context's I/O thread.
    Thread,
    /// On the thread that calls `Context::dispatch`.
    Manual,
}

/// What a broadcast does with a subscriber whose queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowPolicy {
    /// Close it with 1008 and drop what it had queued.
    Disconnect,
    /// Drop its oldest queued message.
    DropOldest,
}

/// Everything a context needs to know; `Config::new` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Client or server.
    pub mode: Mode,
    /// This context's own log handler (what its I/O thread logs); `None`: the global one.
    pub log: Option<Arc<Target>>,
    /// Client: host to connect to; server: address to bind.
    pub address: String,
    /// TCP port; a server may use 0 for any free port.
    pub port: u16,
    /// Request path (client) or the path accepted (server).
    pub path: String,
    /// Sec-WebSocket-Protocol, if any.
    pub protocol: Option<String>,
    /// Extra handshake headers sent by a client.
    pub headers: Vec<(String, String)>,
    /// Whether TLS is on.
    pub tls: bool,
    /// Certificate (server) or client certificate (client), PEM.
    pub cert: Option<PathBuf>,
    /// Private key for `cert`, PEM.
    pub key: Option<PathBuf>,
    /// Client: extra trust anchors; server: CA that client certificates must chain to.
    pub cacert: Option<PathBuf>,
    /// Client: accept a self-signed (unverifiable) server certificate.
    pub allow_self_signed: bool,
    /// Largest message accepted or sent, in bytes.
    pub max_message_size: usize,
    /// Messages a connection's queue (client: the context's) holds.
    pub queue_capacity: usize,
    /// Interval between pings; zero turns keepalive off.
    pub ping_interval: Duration,
    /// How long to wait for a pong before the connection is considered dead.
    pub pong_timeout: Duration,
    /// Client reconnect backoff, first step (the first delay is drawn from its upper half).
    pub backoff_min: Duration,
    /// Client reconnect backoff, largest delay.
    pub backoff_max: Duration,
    /// Time allowed for TCP connect + TLS + WebSocket handshake.
    pub handshake_timeout: Duration,
    /// Server: most connections open at once (handshaking ones included).
    pub max_connections: usize,
    /// Bytes the context may hold for incomplete incoming messages and read buffers, across
    /// all its connections; over it, the connection holding the most is closed with 1008.
    pub max_buffered_bytes: usize,
    /// How long an incoming message may stay incomplete before its connection is closed with
    /// 1008; zero turns the limit off.
    pub message_timeout: Duration,
    /// Server: slow subscriber policy for broadcasts.
    pub slow_policy: SlowPolicy,
    /// Server: file served to plain HTTP GETs.
    pub index_html: Option<PathBuf>,
    /// Where callbacks run.
    pub dispatch: Dispatch,
    /// Client: call `Handler::on_sent` as numbered messages are written (default off: then the
    /// written prefix is only published in `Snapshot::messages_sent_seq`).
    pub report_sent: bool,
    /// Server: who may open a WebSocket (Origin check, bearer tokens, filter).
    pub access: AccessRules,
    /// Server: reverse proxies whose Forwarded / X-Forwarded-For headers name the client
    /// (default: none, the peer is always the TCP peer).
    pub trusted_proxies: TrustedProxies,
    /// Client: the HTTP CONNECT proxy to go through (default: none, connect directly).
    pub proxy: Option<ProxyUrl>,
    /// Client: without `proxy`, take one from `http_proxy` / `https_proxy` / `no_proxy` when the
    /// context is created (default: off).
    pub proxy_from_env: bool,
    /// End-to-end acknowledgements (docs/acks.md; default `Off`).
    pub acks: AckMode,
    /// Client with acknowledgements: messages written and not yet acknowledged, at most
    /// (default `DEFAULT_ACK_WINDOW`; also at most half of `max_buffered_bytes` in bytes).
    pub ack_window: usize,
    /// Client: call `Handler::on_acked` as acknowledgements arrive (default off: the
    /// acknowledged prefix is only published in `Snapshot::messages_acked_seq`).
    pub report_acked: bool,
}

/// Default largest message: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// Default queue capacity in messages.
pub const DEFAULT_QUEUE_CAPACITY: usize = 65536;
/// Default budget for incoming bytes held across a context's connections: 256 MiB.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 256 * 1024 * 1024;
/// Default time an incoming message may take to arrive completely.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_millis(60_000);

impl Config {
    /// A configuration with the contract's defaults for `mode`.
    pub fn new(mode: Mode) -> Self {
        Config {
            mode,
            log: None,
            address: match mode {
                Mode::Client => "127.0.0.1".to_string(),
                Mode::Server => "0.0.0.0".to_string(),
            },
            port: 0,
            path: "/".to_string(),
            protocol: None,
            headers: Vec::new(),
            tls: false,
            cert: None,
            key: None,
            cacert: None,
            allow_self_signed: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            ping_interval: Duration::from_millis(30_000),
            pong_timeout: Duration::from_millis(10_000),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(30_000),
            handshake_timeout: Duration::from_millis(10_000),
            max_connections: 10_000,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            message_timeout: DEFAULT_MESSAGE_TIMEOUT,
            slow_policy: SlowPolicy::Disconnect,
            index_html: None,
            dispatch: Dispatch::Thread,
            report_sent: false,
            access: AccessRules::default(),
            trusted_proxies: TrustedProxies::default(),
            proxy: None,
            proxy_from_env: false,
            acks: AckMode::Off,
            ack_window: DEFAULT_ACK_WINDOW,
            report_acked: false,
        }
    }
}
