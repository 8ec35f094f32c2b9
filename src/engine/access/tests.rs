//! Unit tests of the access rules (Origin, bearer tokens, filters).

use super::*;

fn check(rules: &AccessRules, query: &str, headers: &[(&str, &str)]) -> Option<u16> {
    let hs: Vec<httparse::Header> = headers
        .iter()
        .map(|(n, v)| httparse::Header {
            name: n,
            value: v.as_bytes(),
        })
        .collect();
    let req = Request {
        path: "/",
        query,
        peer: "127.0.0.1:1".parse().unwrap(),
        headers: &hs,
    };
    rules.check(&req).err().map(|r| r.status)
}

#[test]
fn default_origin_is_the_host() {
    let r = AccessRules::default();
    let h = |o: &'static str, host: &'static str| check(&r, "", &[("Host", host), ("Origin", o)]);
    assert_eq!(check(&r, "", &[("Host", "a:1")]), None);
    assert_eq!(h("http://a:1", "a:1"), None);
    assert_eq!(h("HTTP://A:1", "a:1"), None);
    assert_eq!(h("http://a", "a"), None);
    assert_eq!(h("https://a", "a"), None, "TLS terminated by a proxy");
    assert_eq!(h("http://a:80", "A"), None);
    assert_eq!(h("http://[::1]:9", "[::1]:9"), None);
    assert_eq!(h("http://b:1", "a:1"), Some(403));
    assert_eq!(h("http://a:2", "a:1"), Some(403));
    assert_eq!(h("http://a:8080", "a"), Some(403));
    assert_eq!(h("null", "a"), Some(403));
    assert_eq!(h("http://a:1/", "a:1"), Some(403));
    assert_eq!(h("http://a:1/x", "a:1"), Some(403));
    assert_eq!(h("http://u@a:1", "a:1"), Some(403));
    assert_eq!(h("http://a:1", "a:1/x"), Some(403));
    assert_eq!(h("http://a.:1", "a:1"), Some(403));
    assert_eq!(
        check(
            &r,
            "",
            &[
                ("Host", "a"),
                ("Origin", "http://a"),
                ("Origin", "http://a")
            ]
        ),
        Some(403)
    );
    assert_eq!(
        check(&r, "", &[("Origin", "http://a")]),
        Some(403),
        "no Host"
    );
    assert_eq!(
        check(
            &r,
            "",
            &[("Host", "a"), ("Host", "evil"), ("Origin", "http://a")]
        ),
        Some(403),
        "two Host headers"
    );
}

#[test]
fn origin_list_and_any() {
    let mut r = AccessRules::default();
    assert!(r.allow_origin("null").is_err());
    assert!(r.allow_origin("https://x.org/").is_err());
    assert!(r.allow_origin("x.org").is_err());
    r.allow_origin("https://X.org").unwrap();
    let o = |o: &'static str| check(&r, "", &[("Host", "a"), ("Origin", o)]);
    assert_eq!(o("https://x.org"), None);
    assert_eq!(o("https://x.org:443"), None);
    assert_eq!(o("http://x.org"), Some(403));
    assert_eq!(o("https://x.org.evil"), Some(403));
    assert_eq!(o("http://a"), Some(403), "the own host is not implied");
    r.allow_origin("*").unwrap();
    assert_eq!(check(&r, "", &[("Host", "a"), ("Origin", "null")]), None);
}

#[test]
fn tokens() {
    let mut r = AccessRules::default();
    assert!(r.add_bearer_token("").is_err());
    assert!(r.add_bearer_token("a b").is_err());
    assert!(r.add_bearer_token("==").is_err());
    r.add_bearer_token("s3cr+t/x==").unwrap();
    r.add_bearer_token("other").unwrap();
    let a = |v: &'static str| check(&r, "", &[("Authorization", v)]);
    assert_eq!(a("Bearer s3cr+t/x=="), None);
    assert_eq!(a("bearer   other"), None);
    assert_eq!(a("Bearer s3cr+t/x="), Some(401));
    assert_eq!(a("Bearer"), Some(401));
    assert_eq!(a("Basic s3cr+t/x=="), Some(401));
    assert_eq!(a("s3cr+t/x=="), Some(401));
    assert_eq!(check(&r, "", &[]), Some(401));
    assert_eq!(check(&r, "access_token=s3cr%2Bt%2Fx%3D%3D", &[]), None);
    assert_eq!(check(&r, "a=1&access_token=other&b", &[]), None);
    assert_eq!(check(&r, "access_token=%zz", &[]), Some(400));
    assert_eq!(
        check(&r, "access_token=other&access_token=other", &[]),
        Some(400)
    );
    assert_eq!(
        check(
            &r,
            "access_token=other",
            &[("Authorization", "Bearer other")]
        ),
        Some(400)
    );
    assert_eq!(
        check(
            &r,
            "",
            &[
                ("Authorization", "Bearer x"),
                ("Authorization", "Bearer other")
            ]
        ),
        Some(400)
    );
    assert!(!format!("{r:?}").contains("s3cr"));
}

#[test]
fn filter_statuses() {
    let mut r = AccessRules::default();
    for (answer, status) in [
        (0i32, None),
        (451, Some(451)),
        (200, Some(500)),
        (600, Some(500)),
        (-1, Some(500)),
    ] {
        r.set_filter(Some(Arc::new(move |_: &Request<'_>| answer)));
        assert_eq!(check(&r, "", &[]), status);
    }
    r.set_filter(Some(Arc::new(|_: &Request<'_>| panic!("filter bug"))));
    assert_eq!(check(&r, "", &[]), Some(500));
}

#[test]
fn digests() {
    let a = openssl::sha::sha256(b"x");
    assert!(digests_equal(&a, &a));
    assert!(!digests_equal(&a, &openssl::sha::sha256(b"y")));
}
