//! Opening handshake outcomes, client and server.

use std::sync::atomic::Ordering;

use super::{client, request, response, Rig, Told};
use crate::engine::config::{Config, Mode};
use crate::engine::conn::{Closing, End, Phase};

fn handshake_error(r: Result<(), End>) -> String {
    match r {
        Err(End::Handshake(why)) => why,
        other => panic!("expected a handshake failure, got {other:?}"),
    }
}

#[test]
fn client_accepts_a_101_with_the_right_key_and_reads_the_frame_behind_it() {
    let (mut r, key) = client();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut bytes = response("101 Switching Protocols", &accept);
    // A server may write its first frame in the same segment as its 101.
    bytes.extend_from_slice(&super::server_frame(0x1, b"hi"));
    r.feed(&bytes);
    r.read().unwrap();
    assert_eq!(r.conn.phase, Phase::Open);
    assert!(r.conn.opened && r.conn.just_opened);
    assert_eq!(r.shared.client_conn.load(Ordering::Acquire), 1);
    assert_eq!(
        r.told(),
        vec![
            Told::Connect(1),
            Told::Receive(1, b"hi".to_vec(), crate::engine::event::MsgKind::Text)
        ]
    );
}

#[test]
fn client_refuses_a_wrong_accept_key() {
    let (mut r, _) = client();
    r.feed(&response(
        "101 Switching Protocols",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ));
    let why = handshake_error(r.read());
    assert!(why.contains("Accept"), "{why}");
    assert!(!r.conn.opened);
    assert!(r.told().is_empty());
}

#[test]
fn client_refuses_an_answer_other_than_101() {
    let (mut r, key) = client();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    r.feed(&response("200 OK", &accept));
    let why = handshake_error(r.read());
    assert!(why.contains("200"), "{why}");
    assert!(!r.conn.opened);
}

#[test]
fn client_refuses_a_head_over_16_kib_whatever_the_pieces() {
    let (mut r, _) = client();
    // No end of head in sight: waiting for more is right until 16 KiB.
    r.feed(b"HTTP/1.1 101 Switching Protocols\r\nX: ");
    r.feed(&vec![b'a'; 8 * 1024]);
    r.read().unwrap();
    assert_eq!(r.conn.phase, Phase::ClientHandshake);
    r.feed(&vec![b'a'; 9 * 1024]);
    let why = handshake_error(r.read());
    assert!(why.contains("16 KiB"), "{why}");
}

#[test]
fn server_accepts_an_upgrade_and_subscribes_to_broadcasts() {
    let mut r = Rig::new(Config::new(Mode::Server), Phase::ServerHandshake);
    // In two pieces: the first is kept until the head is complete.
    let req = request("/");
    r.feed(&req[..20]);
    r.read().unwrap();
    assert_eq!(r.conn.phase, Phase::ServerHandshake);
    r.feed(&req[20..]);
    r.read().unwrap();
    r.write().unwrap();
    let wire = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    assert!(
        wire.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{wire}"
    );
    // RFC 6455 1.3's sample key and its answer.
    assert!(wire.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_eq!(r.conn.phase, Phase::Open);
    assert!(r.conn.bcast.is_some());
    assert!(r.shared.conns_read().contains_key(&1));
    assert_eq!(r.told(), vec![Told::Connect(1)]);
    assert_eq!(r.stat(|s| &s.connections_current), 1);
}

#[test]
fn server_refuses_an_unknown_path_with_404_then_fin() {
    let mut r = Rig::new(Config::new(Mode::Server), Phase::ServerHandshake);
    r.feed(&request("/elsewhere"));
    r.read().unwrap();
    assert_eq!(r.conn.phase, Phase::HttpReply);
    assert_eq!(r.conn.closing, Closing::FinAfterWrite);
    r.write().unwrap();
    let wire = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    assert!(wire.starts_with("HTTP/1.1 404 Not Found\r\n"), "{wire}");
    assert!(r.conn.stream.fin, "FIN follows the answer");
    assert_eq!(r.conn.phase, Phase::Linger);
    assert!(!r.conn.opened);
    assert!(r.told().is_empty());
    assert_eq!(r.stat(|s| &s.handshakes_refused), 1);
    // The peer's EOF while lingering is the expected end, not an error.
    r.conn.stream.eof = true;
    let end = r.read().unwrap_err();
    assert!(matches!(end, End::Eof));
    assert!(r.conn.error_of(&end).is_none());
}

#[test]
fn server_over_max_connections_answers_503() {
    let mut r = Rig::new(Config::new(Mode::Server), Phase::ServerHandshake);
    r.conn.refuse = true;
    r.feed(&request("/"));
    r.read().unwrap();
    r.write().unwrap();
    let wire = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    assert!(wire.starts_with("HTTP/1.1 503 "), "{wire}");
    assert!(r.conn.stream.fin);
}

#[test]
fn server_answers_431_to_a_head_over_16_kib() {
    let mut r = Rig::new(Config::new(Mode::Server), Phase::ServerHandshake);
    r.feed(b"GET / HTTP/1.1\r\nX: ");
    r.feed(&vec![b'a'; 17 * 1024]);
    r.read().unwrap();
    r.write().unwrap();
    let wire = String::from_utf8(r.conn.stream.take_wire()).unwrap();
    assert!(wire.starts_with("HTTP/1.1 431 "), "{wire}");
    assert!(r.conn.stream.fin);
}

#[test]
fn handshake_deadline_ends_a_silent_peer() {
    let mut r = Rig::new(Config::new(Mode::Server), Phase::ServerHandshake);
    let now = std::time::Instant::now();
    assert!(r.conn.on_timer(now, &r.shared).is_ok());
    let late = now + r.shared.config.handshake_timeout;
    assert!(matches!(
        r.conn.on_timer(late, &r.shared),
        Err(End::Timeout(_))
    ));
}
