//! Our server behind Debian's real nginx: nginx terminates TLS (a certificate made at test
//! time) on 127.0.0.1 and proxies WebSocket to our plain server; our wss client, trusting the
//! test CA, goes through it and messages flow both ways. The server sees the client named by
//! X-Forwarded-For only when 127.0.0.1 is a trusted proxy, and a client cannot spoof its
//! address through the proxy. nginx's idle timeout is shorter than the test's run but longer
//! than our ping interval: the pings keep the proxied connection open.
//!
//! nginx runs in the foreground (one process, no master) with its own configuration, pid,
//! logs and temporary paths in a directory of its own, listening only on 127.0.0.1, and is
//! killed at the end. Without nginx the tests pass after saying loudly that they were skipped,
//! unless WS_REQUIRE_NGINX=1 (set by scripts/check.d/47-reverse-proxy.sh): then they fail.
//!
//! The `location = /logs` block is the configuration README.md documents ("Behind a reverse
//! proxy"); the other locations only change the X-Forwarded-For value (a fixed documentation
//! address, 192.0.2.7, sent as a header and never connected to) so that the client address
//! the server reports differs from the TCP peer, 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::certs::{cert, certs};
use common::*;
use ws_api::engine::{Context, MsgKind};

/// The nginx binary, or None after saying why the test is skipped (a failure instead when
/// WS_REQUIRE_NGINX=1). $WS_NGINX names another binary.
fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WS_NGINX") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    common::peer_process::program_or_skip("nginx", "WS_REQUIRE_NGINX", test)
}

use common::peer_process::free_port;

/// The WebSocket proxying part of the configuration: what README.md documents, with the
/// X-Forwarded-For value and the timeouts as parameters. `backend` is host:port, plus a path
/// that replaces `location`'s if the server's path differs.
fn ws_location(location: &str, backend: &str, xff: &str, read_timeout: &str) -> String {
    format!(
        r#"
        location = {location} {{
            proxy_pass http://{backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For {xff};
            proxy_set_header Forwarded "";
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout {read_timeout};
            proxy_send_timeout {read_timeout};
        }}
"#
    )
}

/// A running nginx, killed when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// Starts nginx with TLS on a free 127.0.0.1 port and these `location` blocks, and waits
    /// until it accepts connections.
    fn start(bin: &Path, locations: &str) -> Nginx {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "nginx-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = free_port();
        let d = dir.display();
        let c = certs().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {c}/server.pem;
        ssl_certificate_key {c}/server.key;
{locations}
    }}
}}
"#
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx { child, dir, port };
        let log_dir = n.dir.clone();
        common::peer_process::wait_listening(&mut n.child, "nginx", port, T, || {
            std::fs::read_to_string(log_dir.join("error.log")).unwrap_or_default()
        });
        n
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- nginx error.log:\n{}", self.error_log());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A wss client of nginx's `path`, trusting the test CA, with `headers` in its request.
fn wss_client(nginx: &Nginx, path: &str, headers: &[(&str, &str)]) -> (Context, Recorder) {
    client(nginx.port, |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.path = path.into();
        c.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
    })
}

/// Waits for the client and the server to connect, checks one message each way and answers
/// the address the server reports for the connection.
fn exchange(srv: &Context, srec: &Recorder, cli: &Context, crec: &Recorder) -> SocketAddr {
    let conn = srec.wait("the server's on_connect", T, |l| {
        l.connects.first().copied()
    });
    crec.wait("the client's on_connect", T, |l| {
        l.connects.first().copied()
    });
    let peer = srv.peer_address(conn).unwrap();
    cli.send(0, b"up through nginx", MsgKind::Text).unwrap();
    srec.wait("the client's message", T, |l| {
        l.messages
            .iter()
            .any(|(c, m, _)| *c == conn && m == b"up through nginx")
            .then_some(())
    });
    srv.send(conn, b"down through nginx", MsgKind::Text)
        .unwrap();
    crec.wait("the server's message", T, |l| {
        l.messages
            .iter()
            .any(|(_, m, _)| m == b"down through nginx")
            .then_some(())
    });
    peer
}

fn server_at(path: &str, trust: &[&str]) -> (Context, Recorder) {
    server(|c| {
        c.path = path.into();
        for p in trust {
            c.trusted_proxies.add(p).unwrap();
        }
    })
}

#[test]
fn wss_through_nginx_with_and_without_trust() {
    let Some(bin) = nginx_or_skip("wss_through_nginx_with_and_without_trust") else {
        return;
    };
    let (trusting, trec) = server_at("/logs", &["127.0.0.1"]);
    let (wary, wrec) = server_at("/logs", &[]);
    let a = format!("127.0.0.1:{}", trusting.local_port());
    let b = format!("127.0.0.1:{}", wary.local_port());
    let fixed = r#""192.0.2.7, $remote_addr""#;
    let locations = [
        ws_location("/logs", &a, "$proxy_add_x_forwarded_for", "1h"),
        ws_location("/fixed", &format!("{a}/logs"), fixed, "1h"),
        ws_location("/wary", &format!("{b}/logs"), fixed, "1h"),
    ]
    .concat();
    let nginx = Nginx::start(&bin, &locations);

    // The documented configuration: X-Forwarded-For is the client, 127.0.0.1, with no port;
    // the TCP peer would have nginx's own source port.
    let (cli, crec) = wss_client(&nginx, "/logs", &[]);
    let peer = exchange(&trusting, &trec, &cli, &crec);
    assert_eq!(peer, "127.0.0.1:0".parse().unwrap(), "from X-Forwarded-For");
    cli.shutdown(Duration::from_secs(1));
    trec.wait("the close", T, |l| (!l.closes.is_empty()).then_some(()));

    // A client address that is not the proxy's: reported by the trusting server.
    let (cli, crec) = wss_client(&nginx, "/fixed", &[]);
    trec.update(|l| *l = Log::default());
    let peer = exchange(&trusting, &trec, &cli, &crec);
    assert_eq!(peer, "192.0.2.7:0".parse().unwrap());
    cli.shutdown(Duration::from_secs(1));

    // The server that trusts no proxy reports nginx, whatever the headers say.
    let (cli, crec) = wss_client(&nginx, "/wary", &[]);
    let peer = exchange(&wary, &wrec, &cli, &crec);
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    assert_ne!(peer.port(), 0, "the TCP peer, nginx's upstream connection");
    cli.shutdown(Duration::from_secs(1));
}

#[test]
fn client_cannot_spoof_through_nginx() {
    let Some(bin) = nginx_or_skip("client_cannot_spoof_through_nginx") else {
        return;
    };
    let (srv, srec) = server_at("/fixed", &["127.0.0.1"]);
    let a = format!("127.0.0.1:{}", srv.local_port());
    let nginx = Nginx::start(
        &bin,
        &ws_location("/fixed", &a, r#""192.0.2.7, $remote_addr""#, "1h"),
    );
    // nginx replaces the client's X-Forwarded-For with its own value and drops its Forwarded
    // header: the server reports the client nginx names, not the one the client claims.
    let spoof = [
        ("X-Forwarded-For", "203.0.113.66"),
        ("Forwarded", "for=203.0.113.66"),
    ];
    let (cli, crec) = wss_client(&nginx, "/fixed", &spoof);
    let peer = exchange(&srv, &srec, &cli, &crec);
    assert_eq!(
        peer,
        "192.0.2.7:0".parse().unwrap(),
        "not the spoofed address"
    );
    cli.shutdown(Duration::from_secs(1));
    drop(nginx);

    // Without `proxy_set_header Forwarded "";` nginx passes the client's Forwarded through:
    // it disagrees with nginx's X-Forwarded-For, so neither is believed and the server reports
    // the proxy itself.
    let (srv, srec) = server_at("/fixed", &["127.0.0.1"]);
    let a = format!("127.0.0.1:{}", srv.local_port());
    let passing = ws_location("/fixed", &a, r#""192.0.2.7, $remote_addr""#, "1h")
        .replace(r#"proxy_set_header Forwarded "";"#, "");
    let nginx = Nginx::start(&bin, &passing);
    let (cli, crec) = wss_client(&nginx, "/fixed", &spoof);
    let peer = exchange(&srv, &srec, &cli, &crec);
    assert_eq!(
        peer.ip().to_string(),
        "127.0.0.1",
        "not the spoofed address"
    );
    assert_ne!(peer.port(), 0, "the TCP peer, nginx's upstream connection");
    cli.shutdown(Duration::from_secs(1));
}

#[test]
fn pings_keep_the_proxied_connection_open() {
    let Some(bin) = nginx_or_skip("pings_keep_the_proxied_connection_open") else {
        return;
    };
    const PING: Duration = Duration::from_millis(300);
    let (srv, srec) = server(|c| {
        c.path = "/logs".into();
        c.ping_interval = PING;
    });
    let a = format!("127.0.0.1:{}", srv.local_port());
    // nginx closes a proxied connection on which nothing was read for 1 s.
    let nginx = Nginx::start(
        &bin,
        &ws_location("/logs", &a, "$proxy_add_x_forwarded_for", "1s"),
    );
    let (cli, crec) = client(nginx.port, |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.path = "/logs".into();
        c.ping_interval = PING;
    });
    exchange(&srv, &srec, &cli, &crec);
    // Idle for three times nginx's timeout: only the pings flow. Waiting for a close that
    // must not come is the point here, so this wait runs to its end.
    let idle_until = Instant::now() + Duration::from_secs(3);
    let (m, cv) = &*crec.0;
    let mut g = m.lock().unwrap();
    while g.closes.is_empty() && g.errors.is_empty() {
        let now = Instant::now();
        if now >= idle_until {
            break;
        }
        g = cv.wait_timeout(g, idle_until - now).unwrap().0;
    }
    assert!(
        g.closes.is_empty() && g.errors.is_empty(),
        "the connection ended while idle: {g:?}\n{}",
        nginx.error_log()
    );
    drop(g);
    cli.send(0, b"still here", MsgKind::Text).unwrap();
    srec.wait("a message after the idle time", T, |l| {
        l.messages
            .iter()
            .any(|(_, m, _)| m == b"still here")
            .then_some(())
    });
    assert_eq!(srec.with(|l| l.connects.len()), 1, "no reconnect");
    cli.shutdown(Duration::from_secs(1));
}
