//! The opening handshake, both sides: the client's request and the check of the server's 101, the
//! server's answer to a request (101, a refusal, the index page, 503 over max_connections), and
//! the move to `Phase::Open`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use super::{compress, Closing, Conn, End, Phase, CLOSE_TIMEOUT};
use crate::engine::access;
use crate::engine::deflate::negotiate;
use crate::engine::handshake::{self, ServerReply, MAX_HEAD};
use crate::engine::log::Level;
use crate::engine::replay;
use crate::engine::shared::Shared;
use crate::engine::sink::Sink;
use crate::engine::stream::Transport;
use crate::ws_log;

impl<S: Transport> Conn<S> {
    /// Starts the client's opening handshake once TCP is connected.
    pub fn start_client_handshake(&mut self, shared: &Shared) {
        let c = &shared.config;
        self.key = tungstenite::handshake::client::generate_key();
        let mut headers = std::borrow::Cow::Borrowed(&c.headers);
        if compress::client_offers(c) {
            headers.to_mut().push((
                "Sec-WebSocket-Extensions".into(),
                negotiate::CLIENT_OFFER.into(),
            ));
        }
        let req = handshake::client_request(
            &c.address,
            c.port,
            c.tls,
            &c.path,
            c.protocol.as_deref(),
            &headers,
            &self.key,
        );
        self.phase = Phase::ClientHandshake;
        self.push_control(Bytes::from(req));
    }

    /// Where the HTTP head in `buf` ends, once complete; an error when it is (or will be)
    /// larger than MAX_HEAD however its bytes arrived (one write or many).
    pub(super) fn head(&self, buf: &[u8]) -> Result<Option<usize>, End> {
        // Only the first MAX_HEAD bytes can hold an acceptable head: the scan stays bounded.
        match handshake::head_end(&buf[..buf.len().min(MAX_HEAD)]) {
            Some(n) if n <= MAX_HEAD => Ok(Some(n)),
            None if buf.len() < MAX_HEAD => Ok(None),
            _ => Err(End::Handshake("HTTP head larger than 16 KiB".into())),
        }
    }

    pub(super) fn opened_now(&mut self, sink: &mut Sink, shared: &Shared) {
        self.phase = Phase::Open;
        self.handshake_deadline = None;
        self.opened = true;
        self.opened_at = Some(Instant::now());
        self.just_opened = true;
        // What an earlier connection handed over goes first, in order (with permessage-deflate
        // compressed by this connection's compressor before anything else it sends).
        for c in std::mem::take(&mut self.carry) {
            let c = self.deflate_carried(c, shared);
            self.out_bytes += c.data.len();
            self.out.push_back(c);
        }
        if !shared.config.ping_interval.is_zero() {
            self.next_ping = Some(Instant::now() + shared.config.ping_interval);
        }
        shared.peer_opened(self.id, self.peer);
        let st = &shared.stats;
        st.connections_current.fetch_add(1, Ordering::Relaxed);
        self.count_compressed(shared, true);
        st.connections_total.fetch_add(1, Ordering::Relaxed);
        sink.connect(self.id);
    }

    pub(super) fn server_handshake(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        if !shared.config.tls && buf.first() == Some(&0x16) {
            // A TLS ClientHello (record type 22) on a plain port: refuse now rather than let the
            // client wait for a reply until the handshake timeout.
            return Err(End::Handshake(
                "TLS handshake received on a plain ws:// port".into(),
            ));
        }
        let end = match self.head(buf) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(0),
            Err(_) => {
                ws_log!(
                    Level::Info,
                    "refused handshake from {}: HTTP head larger than 16 KiB",
                    self.peer
                );
                self.http_reply(handshake::head_too_large());
                return Ok(buf.len());
            }
        };
        // Behind a trusted reverse proxy, the client is the one its headers name: from here on
        // (access rules, filter, logs, ws_peer_address) the peer is that client.
        self.peer = shared
            .config
            .trusted_proxies
            .client_address(self.peer, &buf[..end]);
        if self.refuse {
            shared
                .stats
                .handshakes_refused
                .fetch_add(1, Ordering::Relaxed);
            self.http_reply(handshake::too_many_connections());
            return Ok(buf.len());
        }
        let c = &shared.config;
        let peer = self.peer;
        let admit = |path: &str, query: &str, headers: &[httparse::Header<'_>]| {
            c.access.check(&access::Request {
                path,
                query,
                peer,
                headers,
            })
        };
        match handshake::server_reply(
            &buf[..end],
            &c.path,
            c.protocol.as_deref(),
            c.index_html.is_some(),
            &admit,
        ) {
            ServerReply::Accept(mut resp) => {
                let since = match replay::requested(&buf[..end]) {
                    Ok(since) => since,
                    Err(why) => {
                        shared
                            .stats
                            .handshakes_refused
                            .fetch_add(1, Ordering::Relaxed);
                        ws_log!(Level::Info, "refused handshake from {}: {why}", self.peer);
                        self.http_reply(replay::bad_since(&why));
                        return Ok(buf.len());
                    }
                };
                if c.compression > 0 {
                    let offers = handshake::header_values(&buf[..end], "Sec-WebSocket-Extensions");
                    if let Some((agreed, answer)) =
                        negotiate::server_accept(offers.iter().map(String::as_str))
                    {
                        handshake::add_response_header(
                            &mut resp,
                            "Sec-WebSocket-Extensions",
                            &answer,
                        );
                        self.start_deflate(agreed, shared);
                    }
                }
                self.negotiate_acks_server(&buf[..end], &mut resp, shared);
                let sub = replay::subscribe(
                    &shared.bcast,
                    since,
                    self.bcast_lane(),
                    &shared.stats.messages_queued,
                );
                self.push_control(Bytes::from(replay::with_seq_header(resp, sub.next_seq)));
                if let Some((first, missed)) = sub.replay {
                    self.push_control(replay::metadata_frame(first, missed));
                }
                self.bcast = Some(sub.cursor);
                self.replay = since.is_some();
                shared.conns_write().insert(self.id, self.queue.clone());
                self.opened_now(sink, shared);
                Ok(end + self.frames(&mut buf[end..], sink, shared)?)
            }
            ServerReply::ServeIndex => {
                let path = c.index_html.as_ref().expect("checked by server_reply");
                let resp = match std::fs::read(path) {
                    Ok(body) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    Err(e) => {
                        ws_log!(
                            Level::Error,
                            "cannot read index_html {}: {e}",
                            path.display()
                        );
                        handshake::http_response(
                            "500 Internal Server Error",
                            "",
                            "index page unavailable\n",
                        )
                    }
                };
                self.http_reply(resp);
                Ok(buf.len())
            }
            ServerReply::Refuse(resp, why) => {
                shared
                    .stats
                    .handshakes_refused
                    .fetch_add(1, Ordering::Relaxed);
                ws_log!(Level::Info, "refused handshake from {}: {why}", self.peer);
                self.http_reply(resp);
                Ok(buf.len())
            }
        }
    }

    pub(super) fn http_reply(&mut self, resp: Vec<u8>) {
        self.phase = Phase::HttpReply;
        self.handshake_deadline = None;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        self.closing = Closing::FinAfterWrite;
        self.push_control(Bytes::from(resp));
    }

    pub(super) fn client_handshake(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink,
        shared: &Shared,
    ) -> Result<usize, End> {
        let Some(end) = self.head(buf)? else {
            return Ok(0);
        };
        let agreed = handshake::check_response(
            &buf[..end],
            &self.key,
            shared.config.protocol.as_deref(),
            compress::client_offers(&shared.config),
        )
        .map_err(End::Handshake)?;
        if let Some(a) = agreed {
            self.start_deflate(a, shared);
        }
        self.negotiate_acks_client(&buf[..end], shared);
        shared.client_conn.store(self.id, Ordering::Release);
        self.opened_now(sink, shared);
        Ok(end + self.frames(&mut buf[end..], sink, shared)?)
    }
}
