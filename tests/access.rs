//! Access control seen by an attacker: raw HTTP upgrade requests on 127.0.0.1 against a real
//! server, for the Origin check (cross-site WebSocket hijacking), bearer tokens (RFC 6750) and
//! the handshake filter; plus our own client with a token over TLS. Each refusal must be a
//! complete HTTP response (status, Content-Length, Connection: close) followed by the close,
//! counted in handshakes_refused, and nothing may reach on_connect.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::certs::cert;
use common::*;
use ws_api::engine::access::Request;
use ws_api::engine::{Context, MsgKind};

/// What the server answered to a raw request.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    /// The value of header `name` (case-insensitive), if present.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Sends a WebSocket upgrade request for `target` with the standard headers plus `extra` (a
/// `Host` in `extra` replaces the default one) and reads the answer. A refusal must be a
/// complete response whose body matches Content-Length, followed by the server's close.
fn upgrade(port: u16, target: &str, extra: &[&str]) -> Reply {
    let mut req = format!("GET {target} HTTP/1.1\r\n");
    if !extra
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    req.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n");
    req.push_str("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    raw(port, &req)
}

/// Writes `req` and reads the response head; for anything but 101 also the body and the EOF.
fn raw(port: u16, req: &str) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).expect("response within the timeout");
        assert!(n > 0, "closed before a complete response head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    let mut reply = Reply {
        status,
        head,
        body: String::new(),
    };
    if status != 101 {
        s.read_to_end(&mut buf)
            .expect("the server closes after a refusal");
        reply.body = String::from_utf8(buf[head_end..].to_vec()).unwrap();
        let len: usize = reply
            .header("Content-Length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        assert_eq!(len, reply.body.len(), "{reply:?}");
        assert_eq!(reply.header("Connection"), Some("close"), "{reply:?}");
    }
    reply
}

fn refused(ctx: &Context) -> u64 {
    ctx.stats().handshakes_refused
}

#[test]
fn cross_origin_refused_with_403_and_counted() {
    let (srv, rec) = server(|_| {});
    let port = srv.local_port();
    let r = upgrade(port, "/", &["Origin: http://evil.example"]);
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{r:?}");
    assert!(r.body.contains("evil.example"), "{r:?}");
    assert_eq!(refused(&srv), 1);
    // Same host, another port: another origin.
    let other = format!("Origin: http://127.0.0.1:{}", port.wrapping_add(1));
    assert_eq!(upgrade(port, "/", &[&other]).status, 403);
    // A host name that merely starts with ours.
    let prefix = format!("Origin: http://127.0.0.1.evil.example:{port}");
    assert_eq!(upgrade(port, "/", &[&prefix]).status, 403);
    assert_eq!(refused(&srv), 3);
    rec.with(|l| assert!(l.connects.is_empty(), "{l:?}"));
}

#[test]
fn same_origin_and_no_origin_accepted() {
    let (srv, rec) = server(|_| {});
    let port = srv.local_port();
    let same = format!("Origin: http://127.0.0.1:{port}");
    assert_eq!(upgrade(port, "/", &[&same]).status, 101);
    // Host names compare case-insensitively.
    let upper = format!("Origin: HTTP://LOCALHOST:{port}");
    let host = format!("Host: localhost:{port}");
    assert_eq!(upgrade(port, "/", &[&upper, &host]).status, 101);
    // No Origin: not a browser, not a hijacking.
    assert_eq!(upgrade(port, "/", &[]).status, 101);
    rec.wait("three connections", T, |l| {
        (l.connects.len() == 3).then_some(())
    });
    assert_eq!(refused(&srv), 0);
}

#[test]
fn origin_abuse_refused() {
    let (srv, rec) = server(|_| {});
    let port = srv.local_port();
    let own = format!("http://127.0.0.1:{port}");
    let cases = [
        // Sandboxed iframes, file: and data: pages send "null": any site can make one.
        "Origin: null".to_string(),
        format!("Origin: {own}/"),
        format!("Origin: {own}/path"),
        format!("Origin: http://user@127.0.0.1:{port}"),
        format!("Origin: {own}, http://evil.example"),
        "Origin: ".to_string(),
        format!("Origin: 127.0.0.1:{port}"),
    ];
    for c in &cases {
        let r = upgrade(port, "/", &[c]);
        assert_eq!(r.status, 403, "{c}: {r:?}");
    }
    // Two Origin headers, even if one is ours.
    let r = upgrade(
        port,
        "/",
        &[&format!("Origin: {own}"), "Origin: http://evil.example"],
    );
    assert_eq!(r.status, 403, "{r:?}");
    // A Host that the attacker makes up must still be one host:port.
    let r = upgrade(
        port,
        "/",
        &["Host: evil.example/x", "Origin: http://evil.example/x"],
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(refused(&srv), cases.len() as u64 + 2);
    rec.with(|l| assert!(l.connects.is_empty(), "{l:?}"));
}

#[test]
fn allow_list_and_any() {
    let (srv, rec) = server(|c| {
        c.access.allow_origin("https://Logs.Example.org").unwrap();
        c.access.allow_origin("http://127.0.0.1:1").unwrap();
    });
    let port = srv.local_port();
    assert_eq!(
        upgrade(port, "/", &["Origin: https://logs.example.org"]).status,
        101
    );
    assert_eq!(
        upgrade(port, "/", &["Origin: https://logs.example.org:443"]).status,
        101
    );
    assert_eq!(
        upgrade(port, "/", &["Origin: http://127.0.0.1:1"]).status,
        101
    );
    assert_eq!(upgrade(port, "/", &[]).status, 101);
    for bad in [
        "Origin: http://logs.example.org",
        "Origin: https://logs.example.org:8443",
        "Origin: https://logs.example.org.evil",
        "Origin: https://evil.logs.example.org",
        "Origin: null",
    ] {
        assert_eq!(upgrade(port, "/", &[bad]).status, 403, "{bad}");
    }
    // With a list, the server's own host is not implied (DNS rebinding makes it forgeable).
    let own = format!("Origin: http://127.0.0.1:{port}");
    assert_eq!(upgrade(port, "/", &[&own]).status, 403);
    rec.wait("four connections", T, |l| {
        (l.connects.len() == 4).then_some(())
    });

    let (any, _arec) = server(|c| c.access.allow_origin("*").unwrap());
    let port = any.local_port();
    for o in ["Origin: http://evil.example", "Origin: null"] {
        assert_eq!(upgrade(port, "/", &[o]).status, 101, "{o}");
    }
}

#[test]
fn bad_allowed_origins_refused_at_configuration() {
    let mut c = ws_api::engine::Config::new(ws_api::engine::Mode::Server);
    for bad in [
        "null",
        "https://x.org/",
        "https://x.org/path",
        "x.org",
        "https://",
        "https://x.org:port",
        "https://x.org:99999",
        "https://x.org\r\nX: y",
    ] {
        assert!(c.access.allow_origin(bad).is_err(), "{bad}");
    }
}

const TOKEN: &str = "k3y-0f_the.day~+/==";

fn token_server() -> (Context, Recorder) {
    server(|c| {
        c.path = "/logs".into();
        c.access.add_bearer_token("another-token").unwrap();
        c.access.add_bearer_token(TOKEN).unwrap();
    })
}

#[test]
fn token_via_header_and_query() {
    let (srv, rec) = token_server();
    let port = srv.local_port();
    let bearer = format!("Authorization: Bearer {TOKEN}");
    assert_eq!(upgrade(port, "/logs", &[&bearer]).status, 101);
    // The scheme is case-insensitive (RFC 7235), spaces around the token are not part of it.
    let lower = format!("authorization: bEARER   {TOKEN} ");
    assert_eq!(upgrade(port, "/logs", &[&lower]).status, 101);
    // The query form, as a browser's URLSearchParams encodes it, with the path still matched.
    let q = "/logs?x=1&access_token=k3y-0f_the.day~%2B%2F%3D%3D&y";
    assert_eq!(upgrade(port, q, &[]).status, 101);
    assert_eq!(
        upgrade(port, "/logs?access_token=another-token", &[]).status,
        101
    );
    rec.wait("four connections", T, |l| {
        (l.connects.len() == 4).then_some(())
    });
    assert_eq!(refused(&srv), 0);
}

#[test]
fn missing_or_wrong_token_refused_with_401() {
    let (srv, rec) = token_server();
    let port = srv.local_port();
    let r = upgrade(port, "/logs", &[]);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.head.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"), "{r:?}");

    let wrong = |extra: &str, target: &str| {
        let r = upgrade(port, target, &[extra]);
        assert_eq!(r.status, 401, "{extra} {target}: {r:?}");
        assert!(!r.body.contains(TOKEN), "{r:?}");
        r
    };
    // A guess, a prefix, a longer token, the wrong case, an empty one: invalid_token.
    for v in [
        "Authorization: Bearer guess".to_string(),
        format!("Authorization: Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Authorization: Bearer {TOKEN}x"),
        format!("Authorization: Bearer {}", TOKEN.to_uppercase()),
        "Authorization: Bearer".to_string(),
        format!("Authorization: Bearer {TOKEN} extra"),
    ] {
        let r = wrong(&v, "/logs");
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Bearer error=\"invalid_token\""),
            "{v}: {r:?}"
        );
    }
    assert_eq!(
        wrong("X-Dummy: 1", "/logs?access_token=guess").header("WWW-Authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    // The token in a wrong form is no bearer token at all.
    for v in [
        format!("Authorization: {TOKEN}"),
        format!("Authorization: Token {TOKEN}"),
        format!("Authorization: Basic {TOKEN}"),
        format!("Authorization: Bearer:{TOKEN}"),
        format!("X-Access-Token: {TOKEN}"),
        format!("Cookie: access_token={TOKEN}"),
    ] {
        assert_eq!(
            wrong(&v, "/logs").header("WWW-Authenticate"),
            Some("Bearer")
        );
    }
    // A parameter that only ends in access_token is another parameter.
    let q = format!("/logs?my_access_token={TOKEN}");
    assert_eq!(
        wrong("X-Dummy: 1", &q).header("WWW-Authenticate"),
        Some("Bearer")
    );
    rec.with(|l| assert!(l.connects.is_empty(), "{l:?}"));
    assert_eq!(refused(&srv), 15);
}

#[test]
fn token_sent_twice_is_a_bad_request() {
    let (srv, rec) = token_server();
    let port = srv.local_port();
    let good = format!("Authorization: Bearer {TOKEN}");
    let cases: [(Vec<String>, String); 3] = [
        // Two Authorization headers: a proxy may check one and we the other.
        (
            vec![good.clone(), "Authorization: Bearer guess".into()],
            "/logs".into(),
        ),
        (vec![good.clone()], format!("/logs?access_token={TOKEN}")),
        (
            vec![],
            format!("/logs?access_token={TOKEN}&access_token={TOKEN}"),
        ),
    ];
    for (headers, target) in &cases {
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = upgrade(port, target, &h);
        assert_eq!(r.status, 400, "{headers:?} {target}: {r:?}");
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Bearer error=\"invalid_request\"")
        );
    }
    let r = upgrade(port, "/logs?access_token=%zz", &[]);
    assert_eq!(r.status, 400, "{r:?}");
    rec.with(|l| assert!(l.connects.is_empty(), "{l:?}"));
}

#[test]
fn checks_run_in_order_path_origin_token_filter() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let (srv, _rec) = server(move |c| {
        c.path = "/ws".into();
        c.access.add_bearer_token(TOKEN).unwrap();
        c.access.set_filter(Some(Arc::new(move |_: &Request<'_>| {
            seen.fetch_add(1, Ordering::SeqCst);
            429
        })));
    });
    let port = srv.local_port();
    let evil = "Origin: http://evil.example";
    let good = format!("Authorization: Bearer {TOKEN}");
    assert_eq!(upgrade(port, "/other", &[evil]).status, 404);
    assert_eq!(upgrade(port, "/ws", &[evil]).status, 403);
    assert_eq!(upgrade(port, "/ws", &[]).status, 401);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the filter sees only authorised requests"
    );
    let r = upgrade(port, "/ws", &[&good]);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(refused(&srv), 4);
}

/// What the filter saw of one request.
#[derive(Debug, Default, Clone)]
struct Seen {
    path: String,
    query: String,
    origin: Option<String>,
    peer: String,
    agent: Option<String>,
}

#[test]
fn filter_sees_the_request_and_chooses_the_status() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let (srv, rec) = server(move |c| {
        c.path = "/feed".into();
        c.access.allow_origin("*").unwrap();
        c.access.set_filter(Some(Arc::new(move |r: &Request<'_>| {
            let agent = r
                .header("user-agent")
                .map(|v| String::from_utf8_lossy(v).into_owned());
            log.lock().unwrap().push(Seen {
                path: r.path.to_string(),
                query: r.query.to_string(),
                origin: r.origin().map(str::to_string),
                peer: r.peer.ip().to_string(),
                agent: agent.clone(),
            });
            if agent.as_deref() == Some("friend") {
                0
            } else {
                451
            }
        })));
    });
    let port = srv.local_port();
    let r = upgrade(
        port,
        "/feed?since=10",
        &["User-Agent: stranger", "Origin: https://a.example"],
    );
    assert_eq!(r.status, 451, "{r:?}");
    assert_eq!(upgrade(port, "/feed", &["User-Agent: friend"]).status, 101);
    rec.wait("connect", T, |l| l.connects.first().copied());
    let s = seen.lock().unwrap().clone();
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0].path, "/feed");
    assert_eq!(s[0].query, "since=10");
    assert_eq!(s[0].origin.as_deref(), Some("https://a.example"));
    assert_eq!(s[0].peer, "127.0.0.1");
    assert_eq!(s[0].agent.as_deref(), Some("stranger"));
    assert_eq!((s[1].query.as_str(), s[1].origin.as_deref()), ("", None));
}

#[test]
fn broken_filter_refuses_with_500_and_the_server_goes_on() {
    let answer = Arc::new(AtomicUsize::new(0));
    let a = answer.clone();
    let (srv, rec) = server(move |c| {
        c.access.set_filter(Some(Arc::new(move |_: &Request<'_>| {
            match a.load(Ordering::SeqCst) {
                0 => 200,
                1 => -3,
                2 => panic!("bug in the application's filter"),
                _ => 0,
            }
        })));
    });
    let port = srv.local_port();
    for i in 0..3 {
        answer.store(i, Ordering::SeqCst);
        let r = upgrade(port, "/", &[]);
        assert_eq!(r.status, 500, "answer {i}: {r:?}");
    }
    answer.store(3, Ordering::SeqCst);
    assert_eq!(upgrade(port, "/", &[]).status, 101);
    rec.wait("connect", T, |l| l.connects.first().copied());
    assert_eq!(refused(&srv), 3);
}

#[test]
fn index_page_needs_no_token_but_its_websocket_does() {
    let dir = std::env::temp_dir().join(format!("ws_api-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("index.html");
    std::fs::write(&page, "<html>page</html>").unwrap();
    let p = page.clone();
    let (srv, _rec) = server(move |c| {
        c.index_html = Some(p);
        c.access.add_bearer_token(TOKEN).unwrap();
    });
    let port = srv.local_port();
    let r = raw(
        port,
        &format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "<html>page</html>");
    let origin = format!("Origin: http://127.0.0.1:{port}");
    assert_eq!(upgrade(port, "/", &[&origin]).status, 401);
    let q = format!("/?access_token={TOKEN}");
    assert_eq!(upgrade(port, &q, &[&origin]).status, 101);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tls_client_with_token() {
    let tls = |c: &mut ws_api::engine::Config| {
        c.tls = true;
        c.cert = cert("server.pem");
        c.key = cert("server.key");
    };
    let (srv, srec) = server(|c| {
        tls(c);
        c.access.add_bearer_token(TOKEN).unwrap();
    });
    let port = srv.local_port();
    let (cli, crec) = client(port, |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.headers
            .push(("Authorization".into(), format!("Bearer {TOKEN}")));
    });
    let conn = srec.wait("server connect", T, |l| l.connects.first().copied());
    crec.wait("client connect", T, |l| l.connects.first().copied());
    srv.send(conn, b"line", MsgKind::Text).unwrap();
    crec.wait("line", T, |l| l.messages.first().map(|m| m.1.clone()));
    drop(cli);

    let (bad, brec) = client(port, |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.headers
            .push(("Authorization".into(), "Bearer guess".into()));
    });
    let msg = brec.wait("refusal", T, |l| {
        l.errors.first().map(|e| e.1.message.clone())
    });
    assert!(msg.contains("401"), "{msg}");
    drop(bad);
    brec.with(|l| assert!(l.connects.is_empty(), "{l:?}"));
    assert!(refused(&srv) >= 1);
    assert_eq!(srec.with(|l| l.connects.len()), 1);
}

#[test]
fn refusals_are_logged_with_the_reason_but_never_the_token() {
    use ws_api::engine::log::{set_handler, Level};
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = lines.clone();
    set_handler(
        Some(Box::new(move |_, m: &str| {
            l.lock().unwrap().push(m.to_string())
        })),
        Level::Info,
    );
    let (srv, _rec) = token_server();
    let port = srv.local_port();
    let guess = "SECRET-guess-1234";
    assert_eq!(
        upgrade(port, "/logs", &[&format!("Authorization: Bearer {guess}")]).status,
        401
    );
    assert_eq!(
        upgrade(port, &format!("/logs?access_token={guess}"), &[]).status,
        401
    );
    let good = format!("Authorization: Bearer {TOKEN}");
    assert_eq!(upgrade(port, "/logs", &[&good]).status, 101);
    set_handler(None, Level::Info);
    let lines = lines.lock().unwrap();
    let refusals = lines
        .iter()
        .filter(|m| m.contains("refused handshake") && m.contains("wrong bearer token"))
        .count();
    assert_eq!(refusals, 2, "{lines:?}");
    for m in lines.iter() {
        assert!(!m.contains(guess) && !m.contains(TOKEN), "{m}");
    }
}
