//! Requests from API threads: the commands channel (`ws_rx_flow`, `ws_close`, the resumption
//! of reading once manual dispatch caught up, shutdown) and the ready channel through which
//! a queue that was empty announces data to write.
//!
//! Separate because this is the one door through which other threads act on connections that
//! only the I/O thread may touch: everything here arrives by message, never by shared state.

use std::sync::atomic::Ordering;

use crate::engine::shared::Command;
use crate::engine::sink::Sink;

use super::IoLoop;

impl IoLoop {
    /// Carries out the commands API threads sent (flow control, closes, resuming reading,
    /// shutdown).
    pub(super) fn commands(&mut self, sink: &mut Sink, scratch: &mut [u8]) {
        while let Ok(cmd) = self.shared.commands.try_recv() {
            match cmd {
                Command::RxFlow(id, enable) => {
                    let shared = self.shared.clone();
                    let Some(c) = self.conns.get_mut(&id) else {
                        continue;
                    };
                    c.rx_paused = !enable;
                    if enable {
                        c.read_hint = true;
                        if let Err(end) = c.consume_inbuf(sink, &shared) {
                            self.teardown(id, end, sink);
                            continue;
                        }
                        self.service(id, sink, scratch);
                    }
                }
                Command::Close(id, code, reason) => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        if c.close_sent.is_none() {
                            c.request_close(code, &reason, self.shared.config.handshake_timeout);
                        }
                        self.service(id, sink, scratch);
                    }
                }
                Command::ResumeStarved => {
                    for id in std::mem::take(&mut self.starved) {
                        self.service(id, sink, scratch);
                    }
                }
                Command::Ack(id) => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.ack_round(std::time::Instant::now(), true);
                        self.service(id, sink, scratch);
                    }
                }
                Command::Shutdown(deadline) => self.begin_shutdown(deadline, sink, scratch),
            }
        }
    }

    /// Services the connections whose queues got news since the last round (data to write,
    /// or an application waiting to hear that there is room again).
    pub(super) fn ready(&mut self, sink: &mut Sink, scratch: &mut [u8]) {
        while let Ok(qid) = self.shared.ready.try_recv() {
            if self.is_client() {
                self.shared
                    .client_queue
                    .scheduled
                    .store(false, Ordering::SeqCst);
                let open = self.shared.client_conn.load(Ordering::Acquire);
                if open != 0 && self.conns.contains_key(&open) {
                    self.service(open, sink, scratch);
                } else {
                    let q = self.shared.client_queue.clone();
                    if q.has_room() && q.want_writable.swap(false, Ordering::SeqCst) {
                        sink.writable(0);
                    }
                }
                continue;
            }
            let Some(c) = self.conns.get_mut(&qid) else {
                continue;
            };
            c.queue.scheduled.store(false, Ordering::SeqCst);
            self.service(qid, sink, scratch);
        }
    }
}
