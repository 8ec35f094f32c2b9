//! wss:// end to end: verification by default, trust anchors, self-signed certificates, mutual
//! TLS, expired certificates, plain/TLS mismatches, volume, silent peers, load errors, and
//! (ignored by default, run by scripts/check.d/45-tls-interop.sh) interoperability with Python's
//! `websockets` package.
//!
//! Certificates are made at test time by tests/peers/mkcerts.sh (openssl CLI).

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::certs::{cert, certs};
use common::*;
use ws_api::engine::{Config, Context, ErrorKind, Mode, MsgKind};

/// A TLS server on 127.0.0.1 with the certificate pair `name`.pem / `name`.key.
fn tls_server(name: &str, f: impl FnOnce(&mut Config)) -> (Context, Recorder) {
    let name = name.to_string();
    server(move |c| {
        c.tls = true;
        c.cert = cert(&format!("{name}.pem"));
        c.key = cert(&format!("{name}.key"));
        f(c);
    })
}

/// A TLS client trusting the test CA.
fn tls_client(port: u16, f: impl FnOnce(&mut Config)) -> (Context, Recorder) {
    client(port, |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        f(c);
    })
}

/// Waits for the client's `n`-th error and checks they are all TLS errors mentioning `what`.
fn expect_tls_errors(rec: &Recorder, n: usize, what: &str) {
    rec.wait("TLS errors", T, |l| (l.errors.len() >= n).then_some(()));
    rec.with(|l| {
        for (conn, e) in &l.errors {
            assert_eq!(*conn, 0);
            assert_eq!(e.kind, ErrorKind::Tls, "{e:?}");
            assert!(e.message.contains(what), "{:?} lacks {what:?}", e.message);
        }
        assert!(l.connects.is_empty(), "connected anyway: {l:?}");
    });
}

/// One message each way, then a clean close seen by both sides without errors.
fn round_trip(srv: &Context, srec: &Recorder, cli: &Context, crec: &Recorder) {
    let conn = srec.wait("server connect", T, |l| l.connects.first().copied());
    crec.wait("client connect", T, |l| l.connects.first().copied());
    cli.send(0, b"over tls", MsgKind::Text).unwrap();
    srec.wait("message", T, |l| l.messages.first().map(|m| m.1.clone()))
        .eq(b"over tls")
        .then_some(())
        .expect("payload");
    srv.send(conn, &[1, 2, 3], MsgKind::Binary).unwrap();
    crec.wait("reply", T, |l| l.messages.first().map(|m| m.1.clone()))
        .eq(&[1, 2, 3])
        .then_some(())
        .expect("reply payload");
    assert_eq!(cli.shutdown(Duration::from_secs(2)), 0);
    let code = srec.wait("server close", T, |l| l.closes.first().map(|c| c.1));
    assert_eq!(code, 1001);
    srec.with(|l| assert!(l.errors.is_empty(), "server errors: {:?}", l.errors));
    crec.with(|l| assert!(only_refused_addresses(l), "client errors: {:?}", l.errors));
}

/// Whether every error a client saw is a refused connection: "localhost" may resolve to ::1
/// as well, where nobody listens; the client tries each address in turn.
fn only_refused_addresses(l: &Log) -> bool {
    l.errors
        .iter()
        .all(|(_, e)| e.kind == ErrorKind::Io && e.message.contains("[::1]:"))
}

#[test]
fn verified_round_trip_with_chain_in_cert_file() {
    // server.pem is leaf + intermediate; the client trusts only the root.
    let (srv, srec) = tls_server("server", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    round_trip(&srv, &srec, &cli, &crec);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn host_name_is_verified_and_sni_used_for_names() {
    // By name: "localhost" is in the certificate (SNI is sent for names, not for IP addresses).
    let (srv, srec) = tls_server("server", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |c| c.address = "localhost".into());
    round_trip(&srv, &srec, &cli, &crec);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn traditional_rsa_key_works() {
    let (srv, srec) = tls_server("rsa", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    round_trip(&srv, &srec, &cli, &crec);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn wrong_host_name_refused_and_retried() {
    let (srv, srec) = tls_server("wronghost", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    // Several errors: the client retries with backoff after each refusal.
    expect_tls_errors(&crec, 3, "IP address mismatch");
    assert!(cli.stats().reconnects >= 2);
    srec.with(|l| assert!(l.connects.is_empty()));
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn system_trust_store_alone_refuses_test_ca() {
    let (srv, _srec) = tls_server("server", |_| {});
    let (cli, crec) = client(srv.local_port(), |c| c.tls = true);
    expect_tls_errors(&crec, 1, "unable to get local issuer certificate");
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn self_signed_refused_by_default() {
    let (srv, _srec) = tls_server("self", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    expect_tls_errors(&crec, 1, "self-signed certificate");
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn self_signed_accepted_with_allow_self_signed() {
    let (srv, srec) = tls_server("self", |_| {});
    let (cli, crec) = client(srv.local_port(), |c| {
        c.tls = true;
        c.allow_self_signed = true;
    });
    round_trip(&srv, &srec, &cli, &crec);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn allow_self_signed_still_checks_host_name() {
    // wronghost.pem chains to a CA the client does not trust (forgiven) and names another host
    // (not forgiven).
    let (srv, _srec) = tls_server("wronghost", |_| {});
    let (cli, crec) = client(srv.local_port(), |c| {
        c.tls = true;
        c.allow_self_signed = true;
    });
    expect_tls_errors(&crec, 1, "IP address mismatch");
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn allow_self_signed_still_checks_dates() {
    let (srv, _srec) = tls_server("selfexpired", |_| {});
    let (cli, crec) = client(srv.local_port(), |c| {
        c.tls = true;
        c.allow_self_signed = true;
    });
    expect_tls_errors(&crec, 1, "certificate has expired");
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn expired_certificate_refused() {
    let (srv, _srec) = tls_server("expired", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    expect_tls_errors(&crec, 1, "certificate has expired");
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

fn mtls_server() -> (Context, Recorder) {
    tls_server("server", |c| c.cacert = cert("ca.pem"))
}

#[test]
fn mutual_tls_accepted_with_client_certificate() {
    let (srv, srec) = mtls_server();
    let (cli, crec) = tls_client(srv.local_port(), |c| {
        c.cert = cert("client.pem");
        c.key = cert("client.key");
    });
    round_trip(&srv, &srec, &cli, &crec);
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn mutual_tls_refused_without_client_certificate() {
    let (srv, srec) = mtls_server();
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    expect_tls_errors(&crec, 2, "certificate required");
    srec.with(|l| assert!(l.connects.is_empty()));
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn mutual_tls_refused_with_certificate_from_another_ca() {
    let (srv, srec) = mtls_server();
    let (cli, crec) = tls_client(srv.local_port(), |c| {
        c.cert = cert("client2.pem");
        c.key = cert("client2.key");
    });
    expect_tls_errors(&crec, 2, "unknown ca");
    srec.with(|l| assert!(l.connects.is_empty()));
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

/// How long the first error took to arrive.
fn first_error_after(rec: &Recorder, start: Instant) -> (Duration, ErrorKind, String) {
    let e = rec.wait("an error", T, |l| l.errors.first().map(|e| e.1.clone()));
    (start.elapsed(), e.kind, e.message)
}

#[test]
fn plain_client_against_tls_server_fails_fast() {
    let (srv, srec) = tls_server("server", |_| {});
    let start = Instant::now();
    let (cli, crec) = client(srv.local_port(), |_| {});
    let (took, _kind, msg) = first_error_after(&crec, start);
    // Far below the 10 s handshake timeout: the TLS server refuses the plain request at once.
    assert!(took < Duration::from_secs(3), "took {took:?}: {msg}");
    srec.with(|l| assert!(l.connects.is_empty()));
    crec.with(|l| assert!(l.connects.is_empty()));
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn tls_client_against_plain_server_fails_fast() {
    let (srv, srec) = server(|_| {});
    let start = Instant::now();
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    let (took, kind, msg) = first_error_after(&crec, start);
    assert!(took < Duration::from_secs(3), "took {took:?}: {msg}");
    assert_eq!(kind, ErrorKind::Tls, "{msg}");
    srec.with(|l| assert!(l.connects.is_empty()));
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn hundred_thousand_messages_in_order() {
    let (srv, srec) = tls_server("server", |_| {});
    let (cli, _crec) = tls_client(srv.local_port(), |c| c.queue_capacity = 200_000);
    let n = 100_000;
    for i in 0..n {
        cli.send(0, format!("message {i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    srec.wait("all messages", Duration::from_secs(60), |l| {
        (l.messages.len() == n).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, format!("message {i}").as_bytes());
        }
    });
    cli.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(cli.stats().messages_sent, n as u64);
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn large_messages_both_ways() {
    let (srv, srec) = tls_server("server", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    let conn = srec.wait("server connect", T, |l| l.connects.first().copied());
    let big: Vec<u8> = (0..(3 << 20) + 7).map(|i| (i % 251) as u8).collect();
    for _ in 0..3 {
        cli.send(0, &big, MsgKind::Binary).unwrap();
        srv.send(conn, &big, MsgKind::Binary).unwrap();
    }
    srec.wait("3 big", T, |l| (l.messages.len() == 3).then_some(()));
    crec.wait("3 big back", T, |l| (l.messages.len() == 3).then_some(()));
    srec.with(|l| assert!(l.messages.iter().all(|m| m.1 == big)));
    crec.with(|l| assert!(l.messages.iter().all(|m| m.1 == big)));
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn silent_tcp_client_does_not_delay_others_and_times_out() {
    let timeout = Duration::from_secs(2);
    let (srv, srec) = tls_server("server", |c| c.handshake_timeout = timeout);
    let mut silent = TcpStream::connect(("127.0.0.1", srv.local_port())).unwrap();
    let start = Instant::now();
    let (cli, crec) = tls_client(srv.local_port(), |_| {});
    crec.wait("client connect", T, |l| l.connects.first().copied());
    assert!(
        start.elapsed() < timeout * 3 / 4,
        "delayed: {:?}",
        start.elapsed()
    );
    cli.send(0, b"not delayed", MsgKind::Text).unwrap();
    srec.wait("message", T, |l| l.messages.first().map(|_| ()));
    // The silent one is dropped by the handshake timeout: the server closes it (EOF here).
    silent.set_read_timeout(Some(timeout * 5)).unwrap();
    let mut b = [0u8; 16];
    match silent.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close the silent connection: {other:?}"),
    }
    let waited = start.elapsed();
    assert!(
        waited >= timeout * 9 / 10 && waited < timeout * 3,
        "{waited:?}"
    );
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

fn create_error(mode: Mode, f: impl FnOnce(&mut Config)) -> (ErrorKind, String) {
    let mut c = Config::new(mode);
    c.address = "127.0.0.1".into();
    c.port = if mode == Mode::Client { 9 } else { 0 };
    c.tls = true;
    f(&mut c);
    let Err(e) = Context::create(c) else {
        panic!("create must fail");
    };
    (e.kind, e.message)
}

fn assert_tls_error(r: (ErrorKind, String), needles: &[&str]) {
    assert_eq!(r.0, ErrorKind::Tls, "{}", r.1);
    for n in needles {
        assert!(r.1.contains(n), "{:?} lacks {n:?}", r.1);
    }
}

#[test]
fn unusable_files_fail_at_create() {
    let dir = certs();
    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "nothing in PEM here\n").unwrap();
    let missing = dir.join("missing.pem");
    let s = |n: &str| dir.join(n).display().to_string();

    let r = create_error(Mode::Server, |c| {
        c.cert = Some(missing.clone());
        c.key = cert("server.key");
    });
    assert_tls_error(r, &[&missing.display().to_string(), "No such file"]);
    let r = create_error(Mode::Server, |c| {
        c.cert = Some(garbage.clone());
        c.key = cert("server.key");
    });
    assert_tls_error(
        r,
        &[
            &garbage.display().to_string(),
            "not a valid PEM certificate",
        ],
    );
    let r = create_error(Mode::Server, |c| {
        c.cert = Some(empty.clone());
        c.key = cert("server.key");
    });
    assert_tls_error(r, &[&empty.display().to_string(), "no PEM certificate"]);
    let r = create_error(Mode::Server, |c| {
        c.cert = cert("server.pem");
        c.key = Some(garbage.clone());
    });
    assert_tls_error(
        r,
        &[
            &garbage.display().to_string(),
            "not a valid PEM private key",
        ],
    );
    // A key that belongs to another certificate.
    let r = create_error(Mode::Server, |c| {
        c.cert = cert("server.pem");
        c.key = cert("client.key");
    });
    assert_tls_error(r, &[&s("client.key"), &s("server.pem"), "does not match"]);
    let r = create_error(Mode::Server, |c| {
        c.cert = cert("server.pem");
        c.key = cert("server.key");
        c.cacert = Some(missing.clone());
    });
    assert_tls_error(r, &[&missing.display().to_string(), "cacert"]);
    let r = create_error(Mode::Server, |c| c.cert = cert("server.pem"));
    assert_tls_error(r, &["needs both"]);
    // Client side: the same checks, at create too.
    let r = create_error(Mode::Client, |c| c.cacert = Some(garbage.clone()));
    assert_tls_error(r, &[&garbage.display().to_string()]);
    let r = create_error(Mode::Client, |c| {
        c.cert = cert("client.pem");
        c.key = cert("server.key");
    });
    assert_tls_error(r, &["does not match"]);
    let r = create_error(Mode::Client, |c| c.cert = cert("client.pem"));
    assert_tls_error(r, &["needs its key"]);
    // An encrypted key is named as such (no passphrase prompt on a terminal).
    let enc = dir.join("encrypted.key");
    let st = Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(&enc)
        .status()
        .unwrap();
    assert!(st.success());
    let r = create_error(Mode::Server, |c| {
        c.cert = cert("server.pem");
        c.key = Some(enc.clone());
    });
    assert_tls_error(r, &[&enc.display().to_string(), "encrypted"]);
}

// ----- interoperability with Python's `websockets` (scripts/check.d/45-tls-interop.sh) -----

fn python() -> Command {
    Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
}

fn peer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs python3 with websockets; run by scripts/check.d/45-tls-interop.sh"]
fn interop_python_client_against_our_server() {
    let (srv, srec) = tls_server("server", |c| c.cacert = cert("ca.pem"));
    let n = 1000;
    let mut child = Child(
        python()
            .arg(peer("wss_client.py"))
            .arg(format!("wss://localhost:{}/", srv.local_port()))
            .arg(certs())
            .arg(n.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3"),
    );
    let conn = srec.wait("python connects", T, |l| l.connects.first().copied());
    srec.wait("python's messages", T, |l| {
        (l.messages.len() == n).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(m.1, format!("py {i}").as_bytes());
        }
    });
    srv.send(conn, b"done", MsgKind::Text).unwrap();
    // Its output ends when it exits (a timeout kills it when `child` is dropped).
    let mut stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = tx.send(out);
    });
    let out = rx.recv_timeout(T).expect("python client did not finish");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "python client failed: {out}");
    assert_eq!(out.trim(), "got done");
    let code = srec.wait("close", T, |l| l.closes.first().map(|c| c.1));
    assert_eq!(code, 1000);
    srv.shutdown(Duration::from_secs(1));
    // Python's OpenSSL answers our FIN (after the closing handshake, without close_notify) with
    // a decode_error alert: that is no error of the connection's.
    srec.with(|l| assert!(l.errors.is_empty(), "errors: {:?}", l.errors));
}

#[test]
#[ignore = "needs python3 with websockets; run by scripts/check.d/45-tls-interop.sh"]
fn interop_our_client_against_python_server() {
    let mut child = Child(
        python()
            .arg(peer("wss_echo_server.py"))
            .arg(certs())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3"),
    );
    // The server prints its port once it listens.
    let mut line = Vec::new();
    let mut out = child.0.stdout.take().unwrap();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    let port: u16 = String::from_utf8(line)
        .unwrap()
        .trim()
        .parse()
        .expect("port from python");
    let (cli, crec) = tls_client(port, |c| {
        c.address = "localhost".into();
        c.cert = cert("client.pem");
        c.key = cert("client.key");
    });
    let n = 1000;
    for i in 0..n {
        cli.send(0, format!("rs {i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    cli.send(0, &[0, 1, 2, 255], MsgKind::Binary).unwrap();
    crec.wait("echoes", T, |l| (l.messages.len() == n + 1).then_some(()));
    crec.with(|l| {
        for (i, m) in l.messages.iter().take(n).enumerate() {
            // The echo server answers with what it saw, including the SNI name it received.
            assert_eq!(m.1, format!("rs {i} sni=localhost").as_bytes());
            assert_eq!(m.2, MsgKind::Text);
        }
        assert_eq!(l.messages[n].1, vec![0, 1, 2, 255]);
        assert_eq!(l.messages[n].2, MsgKind::Binary);
        assert!(only_refused_addresses(l), "{:?}", l.errors);
    });
    assert_eq!(cli.shutdown(Duration::from_secs(2)), 0);
}

#[test]
fn wrong_host_name_refused_by_name() {
    let (srv, _srec) = tls_server("wronghost", |_| {});
    let (cli, crec) = tls_client(srv.local_port(), |c| c.address = "localhost".into());
    expect_tls_errors(&crec, 1, "hostname mismatch");
    cli.shutdown(Duration::ZERO);
    srv.shutdown(Duration::ZERO);
}

#[test]
fn blocked_writes_with_pings_in_between_keep_the_stream_intact() {
    // The server stops reading, so the client's TLS writes block half-way through batches while
    // its keepalive pings are queued ahead of data: the bytes on the wire must stay consistent.
    let (srv, srec) = tls_server("server", |c| c.ping_interval = Duration::from_millis(15));
    let (cli, crec) = tls_client(srv.local_port(), |c| {
        c.ping_interval = Duration::from_millis(10);
        c.queue_capacity = 10_000;
    });
    let conn = srec.wait("server connect", T, |l| l.connects.first().copied());
    crec.wait("client connect", T, |l| l.connects.first().copied());
    srv.rx_flow(conn, false).unwrap();
    let n = 3000;
    for i in 0..n {
        let mut m = format!("{i:08}").into_bytes();
        m.resize(7001 + i % 97, b'x');
        cli.send(0, &m, MsgKind::Binary).unwrap();
    }
    // Not a synchronisation: pings are timer-driven, and the point is to let some 30 of them be
    // queued while the client's writes are blocked (checked just below).
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        cli.stats().messages_queued > 0,
        "the socket never filled up"
    );
    srv.rx_flow(conn, true).unwrap();
    srec.wait("all messages", Duration::from_secs(30), |l| {
        (l.messages.len() == n).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().enumerate() {
            assert_eq!(&m.1[..8], format!("{i:08}").as_bytes());
            assert_eq!(m.1.len(), 7001 + i % 97);
        }
        assert!(l.errors.is_empty(), "{:?}", l.errors);
    });
    crec.with(|l| assert!(l.errors.is_empty(), "{:?}", l.errors));
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

/// Broadcasts large and small messages over TLS: writes end in the middle of frames of the
/// broadcast log (and OpenSSL retries them from its own copy); every subscriber gets every
/// message whole and in order.
#[test]
fn broadcasts_over_tls_arrive_whole_and_in_order() {
    let (srv, srec) = tls_server("server", |_| {});
    let clients: Vec<_> = (0..2)
        .map(|_| tls_client(srv.local_port(), |_| {}))
        .collect();
    srec.wait("2 connects", T, |l| (l.connects.len() == 2).then_some(()));
    let n = 300usize;
    let size = |i: usize| if i % 4 == 0 { 150_000 } else { 10 + i };
    for i in 0..n {
        let mut m = vec![(i % 251) as u8; size(i)];
        m[..4].copy_from_slice(&(i as u32).to_be_bytes());
        srv.broadcast(&m, MsgKind::Binary).unwrap();
    }
    srv.flush(Duration::from_secs(20)).unwrap();
    for (_, rec) in &clients {
        rec.wait("every broadcast", T, |l| {
            (l.messages.len() == n).then_some(())
        });
        rec.with(|l| {
            for (i, m) in l.messages.iter().enumerate() {
                assert_eq!(m.1.len(), size(i));
                assert_eq!(u32::from_be_bytes(m.1[..4].try_into().unwrap()) as usize, i);
                assert!(m.1[4..].iter().all(|&b| b == (i % 251) as u8));
            }
        });
    }
    assert_eq!(srv.stats().messages_sent, 2 * n as u64);
    for (c, _) in clients {
        assert_eq!(c.shutdown(Duration::from_secs(2)), 0);
    }
    srv.shutdown(Duration::from_secs(1));
}

/// A TLS client over max_connections gets the 503 inside TLS (plain HTTP bytes would reach it as
/// a broken TLS record), and connects once there is room.
#[test]
fn over_max_connections_the_503_comes_inside_tls() {
    let (srv, srec) = tls_server("server", |c| c.max_connections = 1);
    let (first, _frec) = tls_client(srv.local_port(), |_| {});
    srec.wait("first connect", T, |l| l.connects.first().copied());
    let (second, rec) = tls_client(srv.local_port(), |_| {});
    rec.wait("a refusal", T, |l| (!l.errors.is_empty()).then_some(()));
    rec.with(|l| {
        let (conn, e) = &l.errors[0];
        assert_eq!(*conn, 0);
        assert_eq!(e.kind, ErrorKind::Io, "{e:?}");
        assert!(e.message.contains("HTTP 503"), "{:?}", e.message);
        assert!(l.connects.is_empty());
    });
    assert_eq!(first.shutdown(Duration::from_secs(2)), 0);
    rec.wait("connect once there is room", T, |l| {
        l.connects.first().copied()
    });
    srec.with(|l| assert_eq!(l.connects.len(), 2));
    second.shutdown(Duration::from_secs(2));
    srv.shutdown(Duration::from_secs(1));
}
