//! Rough throughput numbers for the engine alone (ignored by default; the real benchmarks are in
//! bench/). Run: cargo test --release --test perf_smoke -- --ignored --nocapture

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_api::engine::{Config, Context, Error, Handler, Mode, MsgKind};

struct Count(Arc<AtomicU64>);

impl Handler for Count {
    fn on_connect(&mut self, _: u64) {}
    fn on_receive(&mut self, _: u64, _: &[u8], _: MsgKind) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed);
        false
    }
    fn on_writable(&mut self, _: u64) {}
    fn on_close(&mut self, _: u64, _: u16, _: &str) {}
    fn on_error(&mut self, _: u64, _: &Error) {}
}

#[test]
#[ignore]
fn client_send_throughput() {
    let n: u64 = 2_000_000;
    let got = Arc::new(AtomicU64::new(0));
    let mut sc = Config::new(Mode::Server);
    sc.address = "127.0.0.1".into();
    let srv = Context::create(sc).unwrap();
    srv.start(Box::new(Count(got.clone()))).unwrap();
    let mut cc = Config::new(Mode::Client);
    cc.port = srv.local_port();
    let cli = Context::create(cc).unwrap();
    let (cl, _rec) = (cli, ());
    cl.start(Box::new(Count(Arc::new(AtomicU64::new(0)))))
        .unwrap();
    let msg = vec![b'x'; 200];
    let t0 = Instant::now();
    let mut sent = 0;
    let mut full = 0u64;
    while sent < n {
        match cl.send(0, &msg, MsgKind::Text) {
            Ok(()) => sent += 1,
            Err(_) => {
                full += 1;
                std::thread::yield_now();
            }
        }
    }
    while got.load(Ordering::Relaxed) < n {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1));
    }
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "client-send: {n} msgs in {dt:.3}s = {:.0} msg/s (queue-full retries {full})",
        n as f64 / dt
    );
    cl.shutdown(Duration::from_secs(1));
    srv.shutdown(Duration::from_secs(1));
}
