//! Unit tests of the proxy URL, `no_proxy` matching, the environment's choice and the CONNECT
//! exchange over in-memory reads and writes.

use std::collections::HashMap;
use std::io;

use super::*;

fn url(s: &str) -> ProxyUrl {
    ProxyUrl::parse(s, false).unwrap()
}

#[test]
fn urls_parse_with_and_without_credentials_and_port() {
    let u = url("http://proxy.example:3128");
    assert_eq!(
        (u.host.as_str(), u.port, u.credentials),
        ("proxy.example", 3128, None)
    );
    let u = url("HTTP://user:p%40ss@10.0.0.1:8080/");
    assert_eq!(u.host, "10.0.0.1");
    assert_eq!(u.credentials.as_deref(), Some("user:p@ss"));
    let u = url("http://[::1]:3128");
    assert_eq!((u.host.as_str(), u.port), ("::1", 3128));
    assert_eq!(url("http://p").port, DEFAULT_PROXY_PORT);
    assert_eq!(ProxyUrl::parse("p:3128", true).unwrap().port, 3128);
}

#[test]
fn malformed_urls_are_refused() {
    for bad in [
        "",
        "proxy:3128",
        "https://proxy:3128",
        "socks5://proxy:1080",
        "http://",
        "http://:3128",
        "http://proxy:0",
        "http://proxy:65536",
        "http://proxy:+80",
        "http://proxy:x",
        "http://proxy:3128/path",
        "http://proxy\r\n:3128",
        "http://pro xy:3128",
        "http://proxy\0:3128",
        "http://@proxy:3128",
        "http://[::1:3128",
        "http://[::1]x",
        "http://u:%zz@proxy:3128",
    ] {
        assert!(ProxyUrl::parse(bad, false).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn credentials_never_show() {
    let u = url("http://alice:secret@proxy:3128");
    let shown = format!("{u} {u:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("alice"),
        "{shown}"
    );
    assert!(shown.contains("proxy:3128"), "{shown}");
}

#[test]
fn no_proxy_matches_as_curl_does() {
    let list = "localhost, .internal.example,corp.example, 10.1.2.3,[::1]:8080,other:99";
    for host in [
        "localhost",
        "LOCALHOST",
        "a.internal.example",
        "internal.example",
        "corp.example",
        "x.y.corp.example",
        "10.1.2.3",
        "::1",
        "[::1]",
        "other",
    ] {
        assert!(no_proxy_matches(list, host), "{host} should bypass");
    }
    for host in [
        "notcorp.example",
        "example",
        "10.1.2.33",
        "corp.example.org",
        "::2",
    ] {
        assert!(!no_proxy_matches(list, host), "{host} should use the proxy");
    }
    assert!(no_proxy_matches("*", "anything.example"));
    assert!(!no_proxy_matches("", "anything"));
    assert!(!no_proxy_matches(" , ,", "anything"));
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

#[test]
fn the_environment_picks_the_variable_by_scheme_with_upper_case_fallback() {
    let e = env(&[("http_proxy", "http://plain:1"), ("HTTPS_PROXY", "tls:2")]);
    assert_eq!(from_env(&e, "h", false).unwrap().unwrap().host, "plain");
    assert_eq!(from_env(&e, "h", true).unwrap().unwrap().host, "tls");
    let e = env(&[("http_proxy", ""), ("HTTP_PROXY", "http://upper:1")]);
    assert_eq!(from_env(&e, "h", false).unwrap().unwrap().host, "upper");
    assert_eq!(from_env(env(&[]), "h", false).unwrap(), None);
    let e = env(&[("http_proxy", "http://p:1"), ("NO_PROXY", ".example")]);
    assert_eq!(from_env(&e, "a.example", false).unwrap(), None);
    assert!(from_env(&e, "a.example.org", false).unwrap().is_some());
    let e = env(&[("http_proxy", "http://u:hidden@p:1/x")]);
    let err = from_env(&e, "h", false).unwrap_err().to_string();
    assert!(
        err.contains("http_proxy") && !err.contains("hidden"),
        "{err}"
    );
}

#[test]
fn the_request_names_the_target_and_carries_basic_credentials() {
    let r = connect_request(&url("http://p:1"), "ws.example", 443);
    assert_eq!(
        r,
        b"CONNECT ws.example:443 HTTP/1.1\r\nHost: ws.example:443\r\n\r\n"
    );
    let r = connect_request(&url("http://Aladdin:open%20sesame@p:1"), "::1", 80);
    let r = String::from_utf8(r).unwrap();
    assert!(
        r.starts_with("CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n"),
        "{r}"
    );
    assert!(
        r.contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
        "{r}"
    );
    assert!(valid_target("ws.example") && valid_target("::1"));
    for bad in ["", "a b", "a\r\nX: y", "a/b", "u@h", "a\0"] {
        assert!(!valid_target(bad), "{bad:?}");
    }
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
}

#[test]
fn answers_are_checked() {
    assert!(check_answer(b"HTTP/1.1 200 Connection established\r\n\r\n").is_ok());
    assert!(check_answer(b"HTTP/1.0 204 \r\nVia: x\r\n\r\n").is_ok());
    assert_eq!(
        check_answer(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").unwrap_err(),
        "proxy answered 407 Proxy Authentication Required"
    );
    assert_eq!(
        check_answer(b"HTTP/1.1 403 \r\n\r\n").unwrap_err(),
        "proxy answered 403"
    );
    assert!(check_answer(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
}

/// Runs an exchange against `answer` handed out in pieces of `step` bytes, each followed by one
/// WouldBlock; returns what was written and the outcome.
fn exchange(answer: &[u8], step: usize) -> (Vec<u8>, Result<bool, Failure>) {
    let mut t = Tunnel::new(&url("http://p:1"), "h", 2);
    let mut sent = Vec::new();
    let mut pos = 0;
    let mut blocked = false;
    loop {
        let r = t.drive(
            |b| {
                // The socket takes 5 bytes at a time.
                let n = b.len().min(5);
                sent.extend_from_slice(&b[..n]);
                Ok(n)
            },
            |buf| {
                if blocked || pos == answer.len() {
                    blocked = false;
                    if pos == answer.len() {
                        return Ok(0);
                    }
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = step.min(answer.len() - pos).min(buf.len());
                buf[..n].copy_from_slice(&answer[pos..n + pos]);
                pos += n;
                blocked = true;
                Ok(n)
            },
        );
        match r {
            Ok(false) => continue,
            other => return (sent, other),
        }
    }
}

#[test]
fn the_exchange_succeeds_over_pieces() {
    let (sent, r) = exchange(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n", 3);
    assert_eq!(sent, b"CONNECT h:2 HTTP/1.1\r\nHost: h:2\r\n\r\n");
    assert!(r.unwrap());
}

#[test]
fn the_exchange_fails_clearly() {
    let why = |r: Result<bool, Failure>| match r {
        Err(Failure::Refused(w)) => w,
        other => panic!("{other:?}"),
    };
    let (_, r) = exchange(b"HTTP/1.1 403 Forbidden\r\n\r\n", 7);
    assert_eq!(why(r), "proxy answered 403 Forbidden");
    let (_, r) = exchange(b"HTTP/1.1 200 OK\r\n", 100);
    assert!(why(r).contains("closed the connection"));
    let (_, r) = exchange(b"HTTP/1.1 200 OK\r\n\r\nextra", 100);
    assert!(why(r).contains("bytes after"));
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    big.extend(vec![b'a'; 20_000]);
    let (_, r) = exchange(&big, 4096);
    assert!(why(r).contains("16 KiB"));
}
