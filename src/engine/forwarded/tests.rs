//! Unit tests of the trust list and of the Forwarded / X-Forwarded-For parsing.

use super::*;

fn trusted(list: &[&str]) -> TrustedProxies {
    let mut t = TrustedProxies::default();
    for p in list {
        t.add(p).unwrap();
    }
    t
}

/// The client address seen for a request from `peer` with these headers.
fn seen(t: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> String {
    let mut head = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    t.client_address(peer.parse().unwrap(), head.as_bytes())
        .to_string()
}

#[test]
fn trust_list_syntax() {
    let mut t = TrustedProxies::default();
    for bad in [
        "",
        "localhost",
        "10.0.0.0/",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/8/8",
        "10.1.2.3/8",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        " 10.0.0.1",
        "10.0.0.1 ",
        "fe80::1%eth0",
        "::1/0128",
        "1.2.3.4:80",
        "[::1]",
    ] {
        let e = t.add(bad).expect_err(bad);
        assert!(e.message.contains("trusted proxy"), "{bad}: {}", e.message);
    }
    assert!(t
        .add("10.1.2.3/8")
        .unwrap_err()
        .message
        .contains("10.0.0.0"));
    assert!(t.is_empty());
    for good in [
        "127.0.0.1",
        "10.0.0.0/8",
        "::1",
        "fd00::/8",
        "0.0.0.0/0",
        "::/0",
    ] {
        t.add(good).unwrap();
    }
    t.add("127.0.0.1/32").unwrap();
    assert_eq!(t.nets.len(), 6, "a duplicate is kept once: {t:?}");
}

#[test]
fn membership() {
    let t = trusted(&[
        "127.0.0.1",
        "10.0.0.0/8",
        "fd00::/8",
        "::ffff:192.0.2.0/120",
    ]);
    let yes = |s: &str| t.contains(s.parse().unwrap());
    assert!(yes("127.0.0.1"));
    assert!(
        yes("::ffff:127.0.0.1"),
        "v4-mapped peer of a dual-stack socket"
    );
    assert!(!yes("127.0.0.2"));
    assert!(yes("10.255.0.1"));
    assert!(!yes("11.0.0.1"));
    assert!(yes("fd12::1"));
    assert!(!yes("fe80::1"));
    assert!(!yes("::1"));
    assert!(yes("192.0.2.200"));
    assert!(!yes("192.0.3.1"));
    let all = trusted(&["0.0.0.0/0"]);
    assert!(all.contains("203.0.113.1".parse().unwrap()));
    assert!(!all.contains("2001:db8::1".parse().unwrap()));
}

#[test]
fn nodes() {
    let a = |s: &str| Node::Addr(s.parse().unwrap());
    assert_eq!(node("192.0.2.1"), a("192.0.2.1:0"));
    assert_eq!(node(" 192.0.2.1:8 "), a("192.0.2.1:8"));
    assert_eq!(node("2001:db8::1"), a("[2001:db8::1]:0"));
    assert_eq!(node("[2001:db8::1]"), a("[2001:db8::1]:0"));
    assert_eq!(node("[2001:db8::1]:4711"), a("[2001:db8::1]:4711"));
    assert_eq!(node("192.0.2.1:_hidden"), a("192.0.2.1:0"));
    assert_eq!(node("unknown"), Node::Hidden);
    assert_eq!(node("UNKNOWN"), Node::Hidden);
    assert_eq!(node("_gazonk"), Node::Hidden);
    for bad in [
        "",
        "x",
        "192.0.2.1:",
        "192.0.2.1:65536",
        "192.0.2.1:123456",
        "192.0.2.1:-1",
        "[192.0.2.1]",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "2001:db8::1]",
        "fe80::1%eth0",
        "192.0.2.1/24",
        "1.2.3",
    ] {
        assert_eq!(node(bad), Node::Malformed, "{bad:?}");
    }
}

#[test]
fn untrusted_peer_headers_are_ignored() {
    let t = trusted(&["10.0.0.1"]);
    let h = [
        ("X-Forwarded-For", "192.0.2.7"),
        ("Forwarded", "for=192.0.2.7"),
    ];
    assert_eq!(seen(&t, "127.0.0.1:5000", &h), "127.0.0.1:5000");
    let none = TrustedProxies::default();
    assert_eq!(seen(&none, "10.0.0.1:5000", &h), "10.0.0.1:5000");
    assert_eq!(seen(&t, "10.0.0.1:5000", &h), "192.0.2.7:0");
}

#[test]
fn x_forwarded_for() {
    let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
    let x = |v: &str| seen(&t, "127.0.0.1:9", &[("X-Forwarded-For", v)]);
    assert_eq!(x("192.0.2.7"), "192.0.2.7:0");
    // A client's own value is on the left: the proxy's append wins.
    assert_eq!(x("6.6.6.6, 192.0.2.7"), "192.0.2.7:0");
    // Trusted hops are skipped from the right.
    assert_eq!(x("6.6.6.6, 192.0.2.7, 10.1.1.1, 127.0.0.1"), "192.0.2.7:0");
    // Every hop trusted: the left-most is the client.
    assert_eq!(x("10.2.2.2, 10.1.1.1"), "10.2.2.2:0");
    assert_eq!(x("2001:db8::7"), "[2001:db8::7]:0");
    assert_eq!(x("[2001:db8::7]:4711"), "[2001:db8::7]:4711");
    assert_eq!(x("192.0.2.7:4711"), "192.0.2.7:4711");
    assert_eq!(x(" , 192.0.2.7 ,"), "192.0.2.7:0", "empty list elements");
    // Junk left of the client's hop does not matter; at or right of it, it does.
    assert_eq!(x("garbage!!, 192.0.2.7"), "192.0.2.7:0");
    assert_eq!(x("192.0.2.7, garbage"), "127.0.0.1:9");
    assert_eq!(x("192.0.2.7, unknown"), "127.0.0.1:9");
    assert_eq!(x("192.0.2.7, _obf"), "127.0.0.1:9");
    assert_eq!(x(""), "127.0.0.1:9");
    assert_eq!(x("\"192.0.2.7\""), "127.0.0.1:9");
    // Several header lines are one list, in order.
    let lines = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-For", "192.0.2.7, 10.0.0.3"),
    ];
    assert_eq!(seen(&t, "127.0.0.1:9", &lines), "192.0.2.7:0");
    let lines = [
        ("X-Forwarded-For", "192.0.2.7"),
        ("x-forwarded-for", "198.51.100.1"),
    ];
    assert_eq!(seen(&t, "127.0.0.1:9", &lines), "198.51.100.1:0");
}

#[test]
fn forwarded() {
    let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
    let f = |v: &str| seen(&t, "127.0.0.1:9", &[("Forwarded", v)]);
    assert_eq!(
        f("for=192.0.2.60;proto=http;by=203.0.113.43"),
        "192.0.2.60:0"
    );
    assert_eq!(f("For=\"192.0.2.60:4711\""), "192.0.2.60:4711");
    assert_eq!(
        f("for=\"[2001:db8:cafe::17]:4711\""),
        "[2001:db8:cafe::17]:4711"
    );
    assert_eq!(f("for=\"[2001:db8:cafe::17]\""), "[2001:db8:cafe::17]:0");
    assert_eq!(
        f("for=6.6.6.6, for=192.0.2.43, for=10.0.0.9;proto=https"),
        "192.0.2.43:0"
    );
    assert_eq!(f("for=\"[::1]\";by=x, for=\"10.0.0.5\""), "[::1]:0");
    assert_eq!(f("for=\"\\1\\9\\2.0.2.1\""), "192.0.2.1:0", "quoted-pair");
    assert_eq!(
        f("by=\"a,b\";for=192.0.2.1"),
        "192.0.2.1:0",
        "comma in quotes"
    );
    assert_eq!(f("for=192.0.2.1:_port"), "192.0.2.1:0");
    // What does not tell keeps the proxy.
    for untold in [
        "for=unknown",
        "for=_hidden",
        "for=192.0.2.1, for=unknown",
        "for=192.0.2.1, proto=https",
        "for=192.0.2.1;for=192.0.2.2",
        "for=\"192.0.2.1",
        "for=\"192.0.2.1\"x",
        "for",
        "for=",
        "for=192.0.2.1, junk",
        "for=\"[2001:db8::1]",
    ] {
        assert_eq!(f(untold), "127.0.0.1:9", "{untold:?}");
    }
    // Junk in an earlier (client-written) element does not hide the client.
    assert_eq!(f("for=\"bad, for=192.0.2.1"), "127.0.0.1:9");
    let lines = [("Forwarded", "for=\"bad"), ("Forwarded", "for=192.0.2.1")];
    assert_eq!(seen(&t, "127.0.0.1:9", &lines), "192.0.2.1:0");
    assert_eq!(f("junk;;, for=192.0.2.1"), "192.0.2.1:0");
}

#[test]
fn both_headers_must_agree() {
    let t = trusted(&["127.0.0.1"]);
    let both = |f: &str, x: &str| {
        seen(
            &t,
            "127.0.0.1:9",
            &[("X-Forwarded-For", x), ("Forwarded", f)],
        )
    };
    assert_eq!(
        both("for=\"192.0.2.7:4711\"", "192.0.2.7"),
        "192.0.2.7:4711"
    );
    assert_eq!(both("for=192.0.2.7", "192.0.2.7:80"), "192.0.2.7:80");
    assert_eq!(
        both("for=\"[2001:db8::7]\"", "6.6.6.6, 2001:db8::7"),
        "[2001:db8::7]:0"
    );
    // A client's own Forwarded passed through by a proxy that maintains X-Forwarded-For
    // (and the other way round): not believed.
    assert_eq!(both("for=203.0.113.66", "192.0.2.7"), "127.0.0.1:9");
    assert_eq!(both("for=192.0.2.7", "203.0.113.66"), "127.0.0.1:9");
    assert_eq!(both("for=unknown", "192.0.2.7"), "127.0.0.1:9");
    assert_eq!(both("for=192.0.2.7", "junk"), "127.0.0.1:9");
}

#[test]
fn hostile_heads_never_panic() {
    let t = trusted(&["127.0.0.1"]);
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for head in [
        &b""[..],
        b"GET / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r\nX-Forwarded-For: \xff\xfe\r\n\r\n",
        b"GET / HTTP/1.1\r\nForwarded: for=\"\xc3\xa9\\\r\n\r\n",
        b"\x16\x03\x01\x00",
    ] {
        assert_eq!(t.client_address(peer, head), peer);
    }
    let mut long = b"GET / HTTP/1.1\r\nForwarded: ".to_vec();
    long.extend(std::iter::repeat_n(b"\"\\\",;=".as_slice(), 2000).flatten());
    long.extend_from_slice(b"\r\n\r\n");
    assert_eq!(t.client_address(peer, &long), peer);
}
