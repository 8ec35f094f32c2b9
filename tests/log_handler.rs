//! The log handlers' re-entrancy and routing (`src/engine/log.rs`): a handler that logs again or
//! replaces itself neither deadlocks nor recurses; replacing a handler waits for its running
//! calls; a context's own handler gets what its I/O thread logs. The global handler is
//! process-wide, so this binary holds one test that runs the steps in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ws_api::engine::log::{
    bind_thread, emit, enabled, set_handler, HandlerFn, Level, Target, NESTED_MAX,
};

fn recorder() -> (Arc<Mutex<Vec<String>>>, HandlerFn) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (
        seen,
        Box::new(move |_, m: &str| s.lock().unwrap().push(m.to_string())),
    )
}

// The global handler is process-wide: the tests of it run inside one test function.
#[test]
fn global_handler_is_reentrant() {
    // 1. A handler that logs again gets the nested messages after it returns, in order,
    // at most NESTED_MAX of them, then a note of how many were dropped.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    set_handler(
        Some(Box::new(move |_, m: &str| {
            s.lock().unwrap().push(m.to_string());
            if m == "outer" {
                for i in 0..NESTED_MAX + 3 {
                    emit(Level::Error, &format!("nested {i}"));
                }
            }
        })),
        Level::Debug,
    );
    emit(Level::Error, "outer");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1 + NESTED_MAX + 1, "{got:?}");
    assert_eq!(got[0], "outer");
    for (i, m) in got[1..=NESTED_MAX].iter().enumerate() {
        assert_eq!(*m, format!("nested {i}"));
    }
    assert_eq!(
        got[NESTED_MAX + 1],
        "3 messages logged from inside the log handler were dropped"
    );

    // 2. A handler that replaces itself: no deadlock; the new handler takes the next
    // message and the nested one, which was held until the old handler returned.
    let (seen2, second) = recorder();
    let second = Mutex::new(Some(second));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    set_handler(
        Some(Box::new(move |_, _m: &str| {
            c.fetch_add(1, Ordering::SeqCst);
            if let Some(h) = second.lock().unwrap().take() {
                set_handler(Some(h), Level::Debug);
                emit(Level::Error, "logged while switching");
            }
        })),
        Level::Debug,
    );
    emit(Level::Error, "first");
    emit(Level::Error, "second");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen2.lock().unwrap(),
        vec!["logged while switching".to_string(), "second".to_string()]
    );

    // 3. Levels: less severe than the minimum is not delivered, nor even enabled.
    let (seen3, third) = recorder();
    set_handler(Some(third), Level::Warn);
    assert!(enabled(Level::Warn) && !enabled(Level::Info));
    emit(Level::Info, "info");
    emit(Level::Warn, "warn");
    assert_eq!(*seen3.lock().unwrap(), vec!["warn".to_string()]);

    // 4. A thread bound to a context handler logs there only, at that handler's level;
    // the global handler keeps the other threads' messages.
    let (ctx_seen, ctx_fn) = recorder();
    let ctx = Target::new(ctx_fn, Level::Debug);
    std::thread::spawn(move || {
        let _b = bind_thread(Some(ctx));
        assert!(enabled(Level::Debug));
        emit(Level::Debug, "context debug");
    })
    .join()
    .unwrap();
    emit(Level::Warn, "global warn");
    assert_eq!(*ctx_seen.lock().unwrap(), vec!["context debug".to_string()]);
    assert_eq!(
        *seen3.lock().unwrap(),
        vec!["warn".to_string(), "global warn".to_string()]
    );

    // 5. Replacing the handler waits until a call running on another thread has returned.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let entered_tx = Mutex::new(entered_tx);
    set_handler(
        Some(Box::new(move |_, _m: &str| {
            entered_tx.lock().unwrap().send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
            f.fetch_add(1, Ordering::SeqCst);
        })),
        Level::Debug,
    );
    let logger = std::thread::spawn(|| emit(Level::Error, "slow"));
    entered_rx.recv().unwrap();
    // Released only once the handler has been swapped out (set_handler is then waiting, or
    // about to): returning before the release would be the bug this step looks for.
    let releaser = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while enabled(Level::Error) {
            assert!(Instant::now() < deadline, "set_handler(None) never swapped");
            std::thread::yield_now();
        }
        release_tx.send(()).unwrap();
    });
    set_handler(None, Level::Debug);
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "set_handler returned mid-call"
    );
    logger.join().unwrap();
    releaser.join().unwrap();
    assert!(!enabled(Level::Error));
}
