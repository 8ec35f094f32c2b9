//! Clients through Debian's real HTTP proxy, tinyproxy, started by each test on 127.0.0.1 with
//! its own configuration in a directory of its own and killed at the end: ws:// and wss://
//! (certificate made at test time, checked against the server's own name, not the proxy's)
//! with messages both ways, Basic authentication (407 without credentials), a proxy that
//! refuses the port (403), and the proxy taken from the environment with `no_proxy` matching
//! (direct) and not matching (through the proxy).
//! A proxy that closes at once or never answers is a bare listening socket (no skip there).
//!
//! Without tinyproxy the tests pass after saying loudly that they were skipped, unless
//! WS_REQUIRE_TINYPROXY=1 (set by scripts/check.d/48-proxy.sh): then they fail.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::certs::cert;
use common::*;
use ws_api::engine::{Context, ErrorKind, MsgKind, ProxyUrl};

/// The tinyproxy binary, or None after saying why the test is skipped (a failure instead when
/// WS_REQUIRE_TINYPROXY=1).
fn tinyproxy_or_skip(test: &str) -> Option<PathBuf> {
    common::peer_process::program_or_skip("tinyproxy", "WS_REQUIRE_TINYPROXY", test)
}

use common::peer_process::free_port;

/// A running tinyproxy, killed when dropped.
struct Tinyproxy {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Tinyproxy {
    /// Starts tinyproxy on a free 127.0.0.1 port, allowing CONNECT to `connect_port` only and
    /// requiring `auth` (user, password) if given, and waits until it accepts connections.
    fn start(bin: &Path, connect_port: u16, auth: Option<(&str, &str)>) -> Tinyproxy {
        let port = free_port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tinyproxy-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 10\nMaxClients 16\nAllow 127.0.0.1\n\
             ConnectPort {connect_port}\nLogLevel Info\nLogFile \"{d}/tinyproxy.log\"\n\
             PidFile \"{d}/tinyproxy.pid\"\n"
        );
        if let Some((u, p)) = auth {
            conf.push_str(&format!("BasicAuth {u} {p}\n"));
        }
        let conf_path = dir.join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let mut t = Tinyproxy { child, dir, port };
        let log_dir = t.dir.clone();
        common::peer_process::wait_listening(&mut t.child, "tinyproxy", port, T, || {
            std::fs::read_to_string(log_dir.join("tinyproxy.log")).unwrap_or_default()
        });
        t
    }

    /// The proxy URL, with credentials if given.
    fn url(&self, auth: Option<(&str, &str)>) -> ProxyUrl {
        let s = match auth {
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        };
        ProxyUrl::parse(&s, false).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default()
    }

    /// How many CONNECT requests tinyproxy logged.
    fn connects(&self) -> usize {
        self.log().matches("): CONNECT ").count()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- tinyproxy log:\n{}", self.log());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Waits for both sides to connect and checks one message each way.
fn exchange(srv: &Context, srec: &Recorder, cli: &Context, crec: &Recorder) {
    let conn = srec.wait("the server's on_connect", T, |l| {
        l.connects.first().copied()
    });
    crec.wait("the client's on_connect", T, |l| {
        l.connects.first().copied()
    });
    cli.send(0, b"up through the proxy", MsgKind::Text).unwrap();
    srec.wait("the client's message", T, |l| {
        l.messages
            .iter()
            .any(|(c, m, _)| *c == conn && m == b"up through the proxy")
            .then_some(())
    });
    srv.send(conn, b"down through the proxy", MsgKind::Text)
        .unwrap();
    crec.wait("the server's message", T, |l| {
        l.messages
            .iter()
            .any(|(_, m, _)| m == b"down through the proxy")
            .then_some(())
    });
}

/// Waits for an on_error whose message contains `text`; answers every error message so far.
fn wait_error(rec: &Recorder, text: &str) -> Vec<String> {
    rec.wait(&format!("an error saying {text:?}"), T, |l| {
        let msgs: Vec<String> = l.errors.iter().map(|(_, e)| e.message.clone()).collect();
        msgs.iter().any(|m| m.contains(text)).then_some(msgs)
    })
}

#[test]
fn ws_through_the_proxy() {
    let Some(bin) = tinyproxy_or_skip("ws_through_the_proxy") else {
        return;
    };
    let (srv, srec) = server(|_| {});
    let proxy = Tinyproxy::start(&bin, srv.local_port(), None);
    let url = proxy.url(None);
    let (cli, crec) = client(srv.local_port(), |c| c.proxy = Some(url));
    exchange(&srv, &srec, &cli, &crec);
    assert_eq!(
        proxy.connects(),
        1,
        "went through the proxy:\n{}",
        proxy.log()
    );
    cli.shutdown(Duration::from_secs(1));
}

#[test]
fn wss_through_the_proxy_checks_the_real_host() {
    let Some(bin) = tinyproxy_or_skip("wss_through_the_proxy_checks_the_real_host") else {
        return;
    };
    let (srv, srec) = server(|c| {
        c.tls = true;
        c.cert = cert("server.pem");
        c.key = cert("server.key");
    });
    let proxy = Tinyproxy::start(&bin, srv.local_port(), None);
    // The certificate names localhost (and 127.0.0.1), never the proxy: the name checked is
    // the server's, which the proxy resolves.
    let url = proxy.url(None);
    let (cli, crec) = client(srv.local_port(), |c| {
        c.address = "localhost".into();
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.proxy = Some(url);
    });
    exchange(&srv, &srec, &cli, &crec);
    assert!(proxy.log().contains("localhost"), "{}", proxy.log());
    cli.shutdown(Duration::from_secs(1));

    // A server whose certificate names another host fails verification through the tunnel.
    let (wrong, _wrec) = server(|c| {
        c.tls = true;
        c.cert = cert("wronghost.pem");
        c.key = cert("wronghost.key");
    });
    let proxy = Tinyproxy::start(&bin, wrong.local_port(), None);
    let url = proxy.url(None);
    let (cli, crec) = client(wrong.local_port(), |c| {
        c.tls = true;
        c.cacert = cert("ca.pem");
        c.proxy = Some(url);
    });
    let errs = wait_error(&crec, "TLS");
    assert!(
        crec.with(|l| l.errors.iter().any(|(_, e)| e.kind == ErrorKind::Tls)),
        "{errs:?}"
    );
    assert!(crec.with(|l| l.connects.is_empty()));
    cli.shutdown(Duration::from_secs(1));
}

#[test]
fn proxy_authentication() {
    let Some(bin) = tinyproxy_or_skip("proxy_authentication") else {
        return;
    };
    let (srv, srec) = server(|_| {});
    let auth = Some(("logger", "s3cret"));
    let proxy = Tinyproxy::start(&bin, srv.local_port(), auth);
    // Without credentials: 407 reaches on_error, and the client tries again after its backoff.
    let url = proxy.url(None);
    let (cli, crec) = client(srv.local_port(), |c| c.proxy = Some(url));
    let errs = wait_error(&crec, "proxy answered 407");
    crec.wait("a second 407 after the backoff", T, |l| {
        (l.errors
            .iter()
            .filter(|(_, e)| e.message.contains("proxy answered 407"))
            .count()
            >= 2)
            .then_some(())
    });
    assert!(errs.iter().all(|m| !m.contains("s3cret")), "{errs:?}");
    assert!(
        srec.with(|l| l.connects.is_empty()),
        "nothing reached the server"
    );
    cli.shutdown(Duration::from_secs(1));

    // With them: through.
    let url = proxy.url(auth);
    let (cli, crec) = client(srv.local_port(), |c| c.proxy = Some(url));
    exchange(&srv, &srec, &cli, &crec);
    assert!(
        crec.with(|l| l.errors.is_empty()),
        "{:?}",
        crec.with(|l| format!("{:?}", l.errors))
    );
    cli.shutdown(Duration::from_secs(1));
}

#[test]
fn a_proxy_refusing_the_port_reaches_on_error() {
    let Some(bin) = tinyproxy_or_skip("a_proxy_refusing_the_port_reaches_on_error") else {
        return;
    };
    let (srv, srec) = server(|_| {});
    // CONNECT allowed to another port only.
    let other = free_port();
    let proxy = Tinyproxy::start(&bin, other, None);
    let url = proxy.url(None);
    let (cli, crec) = client(srv.local_port(), |c| c.proxy = Some(url));
    let errs = wait_error(&crec, "proxy answered 403");
    assert!(
        crec.with(|l| l.errors.iter().all(|(_, e)| e.kind == ErrorKind::Io)),
        "{errs:?}"
    );
    assert!(srec.with(|l| l.connects.is_empty()));
    cli.shutdown(Duration::from_secs(1));
}

/// The environment is the process's: tests that change it take turns.
static ENV: Mutex<()> = Mutex::new(());

#[test]
fn proxy_from_the_environment_with_no_proxy() {
    let Some(bin) = tinyproxy_or_skip("proxy_from_the_environment_with_no_proxy") else {
        return;
    };
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let (srv, srec) = server(|_| {});
    let proxy = Tinyproxy::start(&bin, srv.local_port(), None);
    std::env::set_var("http_proxy", format!("127.0.0.1:{}", proxy.port));
    std::env::remove_var("HTTP_PROXY");

    // no_proxy names the server: straight there, the proxy sees nothing.
    std::env::set_var("no_proxy", "localhost,127.0.0.1");
    let (cli, crec) = client(srv.local_port(), |c| c.proxy_from_env = true);
    exchange(&srv, &srec, &cli, &crec);
    assert_eq!(proxy.connects(), 0, "bypassed:\n{}", proxy.log());
    cli.shutdown(Duration::from_secs(1));
    srec.wait("the close", T, |l| (!l.closes.is_empty()).then_some(()));
    srec.update(|l| *l = Log::default());

    // no_proxy names other hosts: through the proxy.
    std::env::set_var("no_proxy", ".example.com,10.0.0.1");
    let (cli, crec) = client(srv.local_port(), |c| c.proxy_from_env = true);
    exchange(&srv, &srec, &cli, &crec);
    assert_eq!(proxy.connects(), 1, "through the proxy:\n{}", proxy.log());
    cli.shutdown(Duration::from_secs(1));

    // An explicit proxy wins over the environment: the one named here refuses the port.
    let refusing = Tinyproxy::start(&bin, free_port(), None);
    let url = refusing.url(None);
    let (cli, crec) = client(srv.local_port(), |c| {
        c.proxy_from_env = true;
        c.proxy = Some(url);
    });
    wait_error(&crec, "proxy answered 403");
    cli.shutdown(Duration::from_secs(1));
    std::env::remove_var("http_proxy");
    std::env::remove_var("no_proxy");
}

/// A "proxy" that is only a listening socket on 127.0.0.1: tinyproxy cannot be made to close
/// at once or to stay silent, so these two ends are a plain socket's.
fn bare_proxy() -> (TcpListener, ProxyUrl) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = ProxyUrl::parse(
        &format!("http://127.0.0.1:{}", l.local_addr().unwrap().port()),
        false,
    )
    .unwrap();
    (l, url)
}

#[test]
fn a_proxy_that_closes_or_stays_silent_reaches_on_error() {
    let (srv, srec) = server(|_| {});
    // Closes every connection as soon as it has read the request.
    let (l, url) = bare_proxy();
    let closer = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut s, &mut buf);
        }
    });
    let (cli, crec) = client(srv.local_port(), |c| c.proxy = Some(url));
    wait_error(
        &crec,
        "the proxy closed the connection without answering CONNECT",
    );
    closer.join().unwrap();
    cli.shutdown(Duration::from_secs(1));

    // Accepts (the kernel does) and never answers: the handshake timeout covers the exchange.
    let (_silent, url) = bare_proxy();
    let (cli, crec) = client(srv.local_port(), |c| {
        c.proxy = Some(url);
        c.handshake_timeout = Duration::from_millis(300);
    });
    wait_error(&crec, "timed out");
    assert!(crec.with(|l| l.errors.iter().any(|(_, e)| e.kind == ErrorKind::Timeout)));
    assert!(srec.with(|l| l.connects.is_empty()));
    cli.shutdown(Duration::from_secs(1));
}
