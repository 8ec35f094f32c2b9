//! Unit tests of the HTTP opening handshake (request and response checks, replies).

use super::*;

fn open(_: &str, _: &str, _: &[httparse::Header<'_>]) -> Result<(), Refusal> {
    Ok(())
}

fn req(extra: &str) -> Vec<u8> {
    format!("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n").into_bytes()
}

#[test]
fn accepts_and_derives_key() {
    match server_reply(&req(""), "/ws", None, false, &open) {
        ServerReply::Accept(r) => {
            let s = String::from_utf8(r).unwrap();
            assert!(s.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{s}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn subprotocol_rules() {
    let p = Some("log");
    assert!(
        matches!(server_reply(&req("Sec-WebSocket-Protocol: a, log\r\n"), "/ws", p, false, &open), ServerReply::Accept(r) if String::from_utf8_lossy(&r).contains("Protocol: log"))
    );
    assert!(
        matches!(server_reply(&req(""), "/ws", p, false, &open), ServerReply::Accept(r) if !String::from_utf8_lossy(&r).contains("Sec-WebSocket-Protocol"))
    );
    assert!(matches!(
        server_reply(
            &req("Sec-WebSocket-Protocol: other\r\n"),
            "/ws",
            p,
            false,
            &open
        ),
        ServerReply::Refuse(..)
    ));
}

#[test]
fn wrong_path_and_plain_get() {
    assert!(
        matches!(server_reply(&req(""), "/other", None, false, &open), ServerReply::Refuse(r, _) if r.starts_with(b"HTTP/1.1 404"))
    );
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let get_ws = b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        server_reply(get_ws, "/ws", None, true, &open),
        ServerReply::ServeIndex
    );
    assert_eq!(
        server_reply(get, "/", None, true, &open),
        ServerReply::ServeIndex
    );
    assert!(
        matches!(server_reply(get, "/ws", None, true, &open), ServerReply::Refuse(r, _) if r.starts_with(b"HTTP/1.1 404"))
    );
    assert!(
        matches!(server_reply(get, "/", None, false, &open), ServerReply::Refuse(r, _) if r.starts_with(b"HTTP/1.1 426"))
    );
}

#[test]
fn admit_sees_path_and_query_and_its_refusal_is_a_complete_response() {
    let head = String::from_utf8(req(""))
        .unwrap()
        .replace("GET /ws ", "GET /ws?a=1&b ");
    let admit = |path: &str, query: &str, _: &[httparse::Header<'_>]| {
        assert_eq!((path, query), ("/ws", "a=1&b"));
        Err(Refusal {
            status: 401,
            headers: "WWW-Authenticate: Bearer\r\n".into(),
            why: "no bearer token".into(),
        })
    };
    match server_reply(head.as_bytes(), "/ws", None, false, &admit) {
        ServerReply::Refuse(r, why) => {
            let r = String::from_utf8(r).unwrap();
            assert!(
                r.starts_with("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n"),
                "{r}"
            );
            assert!(
                r.contains("Content-Length: 16\r\nConnection: close\r\n\r\nno bearer token\n"),
                "{r}"
            );
            assert_eq!(why, "no bearer token");
        }
        other => panic!("{other:?}"),
    }
    // The hook is not reached by a request refused earlier.
    let never = |_: &str, _: &str, _: &[httparse::Header<'_>]| -> Result<(), Refusal> {
        panic!("admit called for a wrong path")
    };
    assert!(matches!(
        server_reply(head.as_bytes(), "/other", None, false, &never),
        ServerReply::Refuse(..)
    ));
}

fn status_of(r: ServerReply) -> String {
    match r {
        ServerReply::Accept(r) | ServerReply::Refuse(r, _) => {
            String::from_utf8_lossy(&r[..12]).into_owned()
        }
        ServerReply::ServeIndex => "index".into(),
    }
}

#[test]
fn version_key_and_target_rules() {
    let v10 = String::from_utf8(req(""))
        .unwrap()
        .replace("HTTP/1.1", "HTTP/1.0");
    assert_eq!(
        status_of(server_reply(v10.as_bytes(), "/ws", None, false, &open)),
        "HTTP/1.1 505"
    );
    let v2 = String::from_utf8(req(""))
        .unwrap()
        .replace("HTTP/1.1", "HTTP/2.0");
    assert_eq!(
        status_of(server_reply(v2.as_bytes(), "/ws", None, false, &open)),
        "HTTP/1.1 505"
    );
    assert_eq!(
        status_of(server_reply(
            b"\x00\x01garbage\r\n\r\n",
            "/ws",
            None,
            false,
            &open
        )),
        "HTTP/1.1 400"
    );
    let dup = req("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    assert_eq!(
        status_of(server_reply(&dup, "/ws", None, false, &open)),
        "HTTP/1.1 400"
    );
    for bad in [
        "abc",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZ!==",
        "dGhlIHNhbXBsZSBub25jZXM=",
    ] {
        let r = String::from_utf8(req(""))
            .unwrap()
            .replace("dGhlIHNhbXBsZSBub25jZQ==", bad);
        assert_eq!(
            status_of(server_reply(r.as_bytes(), "/ws", None, false, &open)),
            "HTTP/1.1 400",
            "{bad}"
        );
    }
    for target in ["http://127.0.0.1:9/ws", "ws://h/ws?x=1", "HTTP://h:1/ws"] {
        let r = String::from_utf8(req(""))
            .unwrap()
            .replacen("/ws", target, 1);
        assert_eq!(
            status_of(server_reply(r.as_bytes(), "/ws", None, false, &open)),
            "HTTP/1.1 101",
            "{target}"
        );
    }
    assert_eq!(origin_form("http://h"), "/");
    assert_eq!(origin_form("http://h?q"), "/");
    assert_eq!(origin_form("/a://b"), "/a://b");
}

#[test]
fn client_checks_response() {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert!(check_response(ok, key, None, false).is_ok());
    assert!(check_response(ok, "other", None, false).is_err());
    assert!(check_response(b"HTTP/1.1 404 Not Found\r\n\r\n", key, None, false).is_err());
}
