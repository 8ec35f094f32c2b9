//! The 2016 server's received-messages pipe with a reader that stalls: the server stops reading
//! from its clients (TCP backpressure slows the senders) instead of dropping anything, and once
//! the reader reads again every message arrives, each followed by "\n", in per-client order.

mod common;

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::FromRawFd;
use std::time::Duration;

use common::*;
use ws_api::engine::MsgKind;
use ws_api::ffi::legacy::{
    websocket_server_create, websocket_server_shutdown, ws_legacy_local_port,
};

#[test]
fn stalled_pipe_reader_loses_nothing() {
    let proto = CString::new("example-protocol").unwrap();
    let (mut fd, mut msgqid, mut pid) = (-1, -1, -1);
    let rc = websocket_server_create(
        proto.as_ptr() as *mut _,
        0,
        0,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut fd,
        &mut msgqid,
        &mut pid,
    );
    // The library keeps panics quiet for C hosts; a test wants to see its failed assertions.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    assert_eq!(rc, 0);
    assert!(fd >= 0);
    let port = ws_legacy_local_port(pid) as u16;
    // SAFETY: the fd is the pipe's read end, handed to us by websocket_server_create.
    let pipe = BufReader::new(unsafe { File::from_raw_fd(fd) });

    const CLIENTS: usize = 3;
    const PER: usize = 100_000;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            client(port, |c| {
                c.protocol = Some("example-protocol".into());
                c.ping_interval = Duration::ZERO;
                c.queue_capacity = PER;
            })
        })
        .collect();
    for (_, rec) in &clients {
        rec.wait("connect", T, |l| l.connects.first().copied());
    }
    // ~35 MB of lines while nobody reads the pipe (64 KiB), more than the kernel's socket
    // buffers and the library's line FIFO hold: the server must pause its clients, not drop.
    for i in 0..PER {
        for (k, (c, _)) in clients.iter().enumerate() {
            let line = format!("client {k} line {i:06} {}", "x".repeat(100));
            c.send(0, line.as_bytes(), MsgKind::Text).unwrap();
        }
    }
    // The senders are held back by TCP: not everything can reach the kernel while the pipe is
    // full.
    let stalled = clients[0].0.flush(Duration::from_millis(300)).is_err()
        || clients[1].0.flush(Duration::from_millis(300)).is_err()
        || clients[2].0.flush(Duration::from_millis(300)).is_err();
    assert!(
        stalled,
        "nothing was held back: the test did not fill the pipe"
    );

    // Now read: everything arrives, in order per client.
    let mut next: HashMap<usize, usize> = HashMap::new();
    let mut lines = pipe.lines();
    for _ in 0..CLIENTS * PER {
        let l = lines.next().expect("a line").expect("readable");
        let mut w = l.split(' ');
        assert_eq!(w.next(), Some("client"));
        let k: usize = w.next().unwrap().parse().unwrap();
        assert_eq!(w.next(), Some("line"));
        let i: usize = w.next().unwrap().parse().unwrap();
        let n = next.entry(k).or_insert(0);
        assert_eq!(i, *n, "client {k}: lost or reordered");
        *n += 1;
    }
    assert!((0..CLIENTS).all(|k| next[&k] == PER));
    for (c, rec) in clients {
        c.flush(T).unwrap();
        assert_eq!(c.shutdown(Duration::from_secs(2)), 0);
        rec.with(|l| assert_eq!(l.connects.len(), 1, "a client reconnected"));
    }
    websocket_server_shutdown(pid);
    // Shutdown closes the write end: the reader sees end of file and nothing more.
    assert!(lines.next().is_none());
}
