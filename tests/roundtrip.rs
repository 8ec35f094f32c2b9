//! End-to-end exchanges between an engine server and an engine client over loopback.

mod common;

use std::time::Duration;

use common::*;
use ws_api::engine::{ErrorKind, MsgKind};

#[test]
fn client_to_server_and_back() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = client(srv.local_port(), |_| {});
    let conn = srec.wait("server connect", T, |l| l.connects.first().copied());
    crec.wait("client connect", T, |l| l.connects.first().copied());
    assert_eq!(
        srv.peer_address(conn).unwrap().ip().to_string(),
        "127.0.0.1"
    );
    assert_eq!(cli.peer_address(0).unwrap().port(), srv.local_port());
    assert_eq!(
        srv.peer_address(conn + 100).unwrap_err().kind,
        ErrorKind::NotConnected
    );
    cli.send(0, b"hello", MsgKind::Text).unwrap();
    cli.send(0, &[0, 1, 2, 0], MsgKind::Binary).unwrap();
    srec.wait("two messages", T, |l| (l.messages.len() == 2).then_some(()));
    srec.with(|l| {
        assert_eq!(l.messages[0].1, b"hello");
        assert_eq!(l.messages[0].2, MsgKind::Text);
        assert_eq!(l.messages[1].1, vec![0, 1, 2, 0]);
        assert_eq!(l.messages[1].2, MsgKind::Binary);
    });
    srv.send(conn, b"back", MsgKind::Text).unwrap();
    crec.wait("reply", T, |l| l.messages.first().map(|m| m.1.clone()))
        .eq(b"back")
        .then_some(())
        .unwrap();
    assert_eq!(
        cli.send(0, &[0xff], MsgKind::Text).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    let unsent = cli.shutdown(Duration::from_secs(2));
    assert_eq!(unsent, 0);
    srec.wait("server close", T, |l| l.closes.first().map(|c| c.1))
        .eq(&1001)
        .then_some(())
        .unwrap();
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn order_of_many_messages_and_large_ones() {
    let (srv, srec) = server(|_| {});
    let (cli, _crec) = client(srv.local_port(), |_| {});
    let n = 20_000;
    for i in 0..n {
        cli.send(0, format!("message {i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    let big = vec![7u8; 1 << 20];
    cli.send(0, &big, MsgKind::Binary).unwrap();
    srec.wait("all messages", Duration::from_secs(30), |l| {
        (l.messages.len() == n + 1).then_some(())
    });
    srec.with(|l| {
        for (i, m) in l.messages.iter().take(n).enumerate() {
            assert_eq!(m.1, format!("message {i}").as_bytes());
        }
        assert_eq!(l.messages[n].1, big);
    });
    cli.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(cli.stats().messages_sent, n as u64 + 1);
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn broadcast_reaches_every_client() {
    let (srv, srec) = server(|_| {});
    let clients: Vec<_> = (0..10).map(|_| client(srv.local_port(), |_| {})).collect();
    srec.wait("10 connects", T, |l| (l.connects.len() == 10).then_some(()));
    for i in 0..100 {
        srv.broadcast(format!("b{i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    for (_, rec) in &clients {
        rec.wait("100 broadcasts", T, |l| {
            (l.messages.len() == 100).then_some(())
        });
        rec.with(|l| assert_eq!(l.messages[99].1, b"b99"));
    }
    assert_eq!(srv.stats().connections_current, 10);
    for (c, _) in clients {
        c.shutdown(Duration::from_secs(1));
    }
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn client_reconnects_to_a_server_started_later_and_loses_nothing() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let (cli, crec) = client(port, |_| {});
    for i in 0..100 {
        cli.send(0, format!("early {i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    crec.wait("a failed attempt", T, |l| {
        (!l.errors.is_empty()).then_some(())
    });
    let (srv, srec) = server(|c| c.port = port);
    srec.wait("100 messages", T, |l| {
        (l.messages.len() == 100).then_some(())
    });
    srec.with(|l| assert_eq!(l.messages[99].1, b"early 99"));
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn server_restart_on_same_port_loses_nothing() {
    let (srv, srec) = server(|_| {});
    let port = srv.local_port();
    let (cli, crec) = client(port, |_| {});
    crec.wait("connect", T, |l| l.connects.first().copied());
    let total = 20_000;
    let half = total / 2;
    for i in 0..half {
        cli.send(0, format!("{i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    srv.shutdown(Duration::from_secs(2));
    let got_first: Vec<Vec<u8>> = srec.with(|l| l.messages.iter().map(|m| m.1.clone()).collect());
    for i in half..total {
        cli.send(0, format!("{i}").as_bytes(), MsgKind::Text)
            .unwrap();
    }
    let (srv2, srec2) = server(|c| c.port = port);
    let need = total - got_first.len();
    srec2.wait("the rest", Duration::from_secs(30), |l| {
        (l.messages.len() >= need).then_some(())
    });
    let mut all = got_first;
    all.extend(srec2.with(|l| l.messages.iter().map(|m| m.1.clone()).collect::<Vec<_>>()));
    assert_eq!(all.len(), total, "every message exactly once");
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m, format!("{i}").as_bytes());
    }
    cli.shutdown(Duration::from_secs(1));
    srv2.shutdown(Duration::from_secs(1));
}

#[test]
fn queue_full_then_writable() {
    // A server that stops reading at the first message: the client's queue must fill.
    let (srv, srec) = server(|_| {});
    let (cli, crec) = client(srv.local_port(), |c| c.queue_capacity = 8);
    let conn = srec.wait("connect", T, |l| l.connects.first().copied());
    crec.wait("client connect", T, |l| l.connects.first().copied());
    srv.rx_flow(conn, false).unwrap();
    let msg = vec![1u8; 256 * 1024];
    let mut accepted = 0;
    let full = loop {
        match cli.send(0, &msg, MsgKind::Binary) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 10_000, "queue never filled");
    };
    assert_eq!(full.kind, ErrorKind::QueueFull);
    cli.request_writable(0).unwrap();
    srv.rx_flow(conn, true).unwrap();
    crec.wait("on_writable", T, |l| (!l.writable.is_empty()).then_some(()));
    srec.wait("everything accepted", Duration::from_secs(30), |l| {
        (l.messages.len() == accepted).then_some(())
    });
    assert!(cli.stats().send_rejected >= 1);
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

// Trying every address of a name in turn ("localhost": ::1, then 127.0.0.1) is tested with
// explicit addresses in src/engine/addresses.rs: what a name resolves to depends on the machine
// (/etc/hosts), and a test must not.

#[test]
fn destroy_does_not_wait_for_an_attempt_with_nothing_to_send() {
    // The listener's backlog completes TCP, but nobody ever answers the WebSocket handshake.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (cli, crec) = client(silent.local_addr().unwrap().port(), |_| {});
    let t0 = std::time::Instant::now();
    assert_eq!(cli.shutdown(Duration::from_secs(5)), 0);
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "destroy waited for a hopeless attempt: {:?}",
        t0.elapsed()
    );
    crec.with(|l| {
        assert!(
            l.errors.is_empty(),
            "no error for an attempt cut short: {:?}",
            l.errors
        )
    });
}
