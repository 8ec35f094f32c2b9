//! The written prefix of a client's sequence numbers (`messages_sent_seq`): a message counts
//! once its frame is written whole, and over TLS only once OpenSSL flushed its batch; a batch
//! still held at a drop is handed back for the next connection.

use super::{open_client, Rig};

fn sent_seq(r: &Rig) -> u64 {
    r.stat(|s| &s.messages_sent_seq)
}

#[test]
fn a_message_counts_once_its_frame_is_written_whole() {
    let mut r = open_client();
    r.send(b"one");
    r.send(b"two");
    // The first frame (2 + 4 mask + 3 bytes) and part of the second.
    r.conn.stream.room = 12;
    r.write().unwrap();
    assert_eq!(sent_seq(&r), 1);
    r.conn.stream.room = usize::MAX;
    r.write().unwrap();
    assert_eq!(sent_seq(&r), 2);
    assert!(!r.conn.has_unsent_data());
}

#[test]
fn messages_in_an_unflushed_tls_batch_count_once_it_is_flushed() {
    let mut r = open_client();
    r.conn.stream.pending = true;
    for m in [b"a", b"b", b"c"] {
        r.send(m);
    }
    r.write().unwrap();
    assert_eq!(sent_seq(&r), 0);
    assert_eq!(r.stat(|s| &s.messages_sent), 0);
    assert_eq!(r.stat(|s| &s.messages_queued), 3);
    assert!(r.conn.has_unsent_data());
    // The batch is out; the next write round confirms it with its own message.
    r.conn.stream.pending = false;
    r.send(b"d");
    r.write().unwrap();
    assert_eq!(sent_seq(&r), 4);
    assert_eq!(r.stat(|s| &s.messages_sent), 4);
    assert_eq!(r.stat(|s| &s.messages_queued), 0);
    assert!(!r.conn.has_unsent_data());
}

#[test]
fn an_unflushed_tls_batch_is_handed_back_at_a_drop_with_its_numbers() {
    let mut r = open_client();
    r.conn.stream.pending = true;
    r.send(b"a");
    r.send(b"b");
    r.write().unwrap();
    let back = r.conn.take_unsent_data();
    assert_eq!(back.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(back.iter().all(|c| c.off == 0 && c.payload == Some(1)));
    assert_eq!(sent_seq(&r), 0);
}
