//! The broadcast log: a message framed once for every subscriber, written to each from its own
//! cursor, interleaved with messages sent to one connection in the order the caller made them.

mod common;

use std::time::Duration;

use common::*;
use ws_api::engine::MsgKind;

/// A message carrying its sequence number, padded to `size` bytes (at least 8).
fn numbered(i: u64, size: usize) -> Vec<u8> {
    let mut m = i.to_be_bytes().to_vec();
    m.resize(size.max(8), b'.');
    m
}

fn number_of(m: &[u8]) -> u64 {
    u64::from_be_bytes(m[..8].try_into().unwrap())
}

/// Sizes that mix small frames, frames with 16-bit and 64-bit lengths, and frames larger than
/// a segment of the log, so that writes end in the middle of frames.
fn size_of(i: u64) -> usize {
    match i % 7 {
        0 => 70_000,
        3 => 300_000,
        5 => 126,
        _ => 20 + (i % 50) as usize,
    }
}

#[test]
fn sends_and_broadcasts_keep_the_callers_order() {
    let (srv, srec) = server(|_| {});
    let clients: Vec<_> = (0..3).map(|_| client(srv.local_port(), |_| {})).collect();
    let conns = srec.wait("3 connects", T, |l| {
        (l.connects.len() == 3).then(|| l.connects.clone())
    });
    let target = conns[0];
    let n = 2_000u64;
    let mut to_target = Vec::new();
    let mut broadcasts = Vec::new();
    for i in 0..n {
        let msg = numbered(i, size_of(i));
        if i % 3 == 0 {
            srv.send(target, &msg, MsgKind::Binary).unwrap();
        } else {
            srv.broadcast(&msg, MsgKind::Binary).unwrap();
            broadcasts.push(i);
        }
        to_target.push(i);
    }
    srv.flush(Duration::from_secs(20)).unwrap();
    let mut targets = 0;
    for (_, rec) in &clients {
        let got = rec.wait("everything", T, |l| {
            let got: Vec<u64> = l.messages.iter().map(|m| number_of(&m.1)).collect();
            (got == to_target || got == broadcasts).then_some(got)
        });
        targets += usize::from(got == to_target);
        rec.with(|l| {
            for m in &l.messages {
                assert_eq!(m.1.len(), size_of(number_of(&m.1)), "message cut or merged");
            }
        });
    }
    assert_eq!(
        targets, 1,
        "the connection sent to got its messages in order"
    );
    let st = srv.stats();
    let expected = broadcasts.len() as u64 * 3 + (n - broadcasts.len() as u64);
    assert_eq!(st.messages_sent, expected, "{st:?}");
    assert_eq!((st.messages_queued, st.messages_dropped), (0, 0), "{st:?}");
    for (c, _) in clients {
        c.shutdown(Duration::from_secs(1));
    }
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn a_subscriber_gets_the_broadcasts_made_after_it_connected() {
    let (srv, srec) = server(|_| {});
    let (early, erec) = client(srv.local_port(), |_| {});
    srec.wait("first connect", T, |l| l.connects.first().copied());
    for i in 0..100 {
        srv.broadcast(&numbered(i, 100), MsgKind::Binary).unwrap();
    }
    erec.wait("first 100", T, |l| (l.messages.len() == 100).then_some(()));
    let (late, lrec) = client(srv.local_port(), |_| {});
    srec.wait("second connect", T, |l| {
        (l.connects.len() == 2).then_some(())
    });
    for i in 100..200 {
        srv.broadcast(&numbered(i, 100), MsgKind::Binary).unwrap();
    }
    erec.wait("all 200", T, |l| (l.messages.len() == 200).then_some(()));
    let got: Vec<u64> = lrec.wait("the last 100", T, |l| {
        (l.messages.len() == 100).then(|| l.messages.iter().map(|m| number_of(&m.1)).collect())
    });
    assert_eq!(got, (100..200).collect::<Vec<u64>>());
    // The counters are updated right after the write that delivered the messages.
    srv.flush(T).unwrap();
    let st = srv.stats();
    assert_eq!((st.messages_sent, st.messages_queued), (300, 0), "{st:?}");
    late.shutdown(Duration::from_secs(1));
    early.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn broadcast_with_nobody_connected_keeps_nothing() {
    let (srv, _srec) = server(|_| {});
    for i in 0..1000 {
        srv.broadcast(&numbered(i, 1000), MsgKind::Binary).unwrap();
    }
    let st = srv.stats();
    assert_eq!((st.messages_queued, st.messages_sent), (0, 0), "{st:?}");
    srv.flush(Duration::from_millis(1)).unwrap();
    srv.shutdown(Duration::from_secs(1));
}

#[test]
fn shutdown_drains_the_broadcast_log_before_closing() {
    let (srv, srec) = server(|_| {});
    let (cli, crec) = client(srv.local_port(), |_| {});
    srec.wait("connect", T, |l| l.connects.first().copied());
    for i in 0..1_500 {
        srv.broadcast(&numbered(i, size_of(i)), MsgKind::Binary)
            .unwrap();
    }
    assert_eq!(
        srv.shutdown(Duration::from_secs(20)),
        0,
        "nothing left unsent"
    );
    let code = crec.wait("close", T, |l| l.closes.first().map(|c| c.1));
    assert_eq!(code, 1001);
    crec.with(|l| {
        let got: Vec<u64> = l.messages.iter().map(|m| number_of(&m.1)).collect();
        assert_eq!(got, (0..1_500).collect::<Vec<u64>>());
    });
    let st = srv.stats();
    assert_eq!(
        (st.messages_sent, st.messages_dropped),
        (1_500, 0),
        "{st:?}"
    );
    cli.shutdown(Duration::from_secs(1));
}
