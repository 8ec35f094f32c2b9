//! A client whose connection dies while its socket is full or filling: what it had not yet handed
//! to the kernel goes out on the next connection, before anything queued later, with no gap and no
//! duplicate (what the kernel had already taken is the one inherent loss of TCP).

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use ws_api::engine::MsgKind;

#[test]
fn unsent_frames_survive_a_dropped_connection_in_order() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (cli, crec) = client(port, |c| c.ping_interval = Duration::ZERO);
    let mut mute = mute_server(&l);
    crec.wait("connect", T, |log| log.connects.first().copied());
    let payload = vec![b'x'; 4000];
    let n = 5000u32;
    for i in 0..n {
        let mut m = i.to_be_bytes().to_vec();
        m.extend_from_slice(&payload);
        cli.send(0, &m, MsgKind::Binary).unwrap();
    }
    // Wait until the kernel has taken some messages (the inherent loss). The rest cannot all
    // follow: 20 MB do not fit in the socket buffers of a server that never reads, so frames
    // are still queued (one possibly half-written) when the connection goes.
    let deadline = Instant::now() + T;
    while cli.stats().messages_sent == 0 {
        assert!(Instant::now() < deadline, "the client wrote nothing");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Going away: a close frame, then the mute server vanishes.
    mute.write_all(&[0x88, 0x02, 0x03, 0xe9]).unwrap();
    drop(mute);
    drop(l);
    crec.wait("close", T, |log| log.closes.first().map(|c| c.1));
    let (srv, srec) = server(|c| c.port = port);
    let first = srec.wait(
        "first message on the new connection",
        Duration::from_secs(30),
        |log| {
            log.messages
                .first()
                .map(|m| u32::from_be_bytes(m.1[..4].try_into().unwrap()))
        },
    );
    let need = (n - first) as usize;
    srec.wait("the rest", Duration::from_secs(30), |log| {
        (log.messages.len() >= need).then_some(())
    });
    srec.with(|log| {
        assert_eq!(log.messages.len(), need, "no duplicates");
        for (k, m) in log.messages.iter().enumerate() {
            assert_eq!(
                u32::from_be_bytes(m.1[..4].try_into().unwrap()),
                first + k as u32,
                "in order, no gap"
            );
        }
    });
    assert!(
        first > 0,
        "the mute server's kernel buffers took some messages"
    );
    assert_eq!(cli.stats().messages_queued, 0);
    cli.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}
