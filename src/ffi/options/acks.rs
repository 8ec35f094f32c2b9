//! The options of end-to-end acknowledgements (docs/acks.md): the mode, the client's window and
//! its on_acked callback. Separate from `options.rs` because they form one feature with its own
//! documentation.

use std::os::raw::c_void;

use super::{require_mode, with_options};
use crate::engine::{AckMode, Error, Mode, MAX_ACK_WINDOW};
use crate::ffi::ptr::UserPtr;
use crate::ffi::types::{ws_ack_mode, ws_on_acked_fn, ws_options, ws_status, RawAckMode};

/// End-to-end acknowledgements (docs/acks.md): WS_ACK_OFF (default), WS_ACK_AUTO or
/// WS_ACK_MANUAL.
///
/// Client (AUTO and MANUAL alike): offers them in each opening handshake (`WS-API-Ack: 1`). A
/// server that accepts them numbers the data messages of the connection 1, 2, 3, ... and
/// acknowledges them cumulatively; the client keeps each written message until then (at most
/// ws_options_set_ack_window messages), reports acknowledged messages through on_acked and
/// ws_stats.messages_acked_seq, and after a reconnect resends the unacknowledged ones first,
/// with their sequence numbers (at-least-once: the server may receive a message twice, at most
/// a window's worth per lost connection, counted in ws_stats.messages_resent). A server that
/// does not accept them (no header in its 101) gets a connection that works as without this
/// option, except that a message counts as acknowledged once written (on_acked reports it then,
/// and a warning is logged): the guarantee on that connection is "written", no more.
///
/// Server: accepts the offer of clients that make it (other clients are served as before).
/// AUTO acknowledges a message once its on_receive returned; MANUAL leaves it to the
/// application (ws_acknowledge, with ws_received_seq). Acknowledgements are sent batched: at
/// once when 256 messages wait for one, or when the connection has nothing more to read and
/// every message it received is acknowledged; else within 5 ms. (MANUAL: while one waits for
/// the 5 ms, ws_acknowledge wakes the I/O thread only for the call that makes everything
/// delivered safe, so the 256 rule applies at its next read from the connection.)
/// An application that never acknowledges holds nothing on the server (no copy of a
/// message is kept): the client stops writing once its window is full, its queue fills and
/// ws_send answers WS_ERR_QUEUE_FULL; the connection stays open (keepalive still runs) until
/// the application acknowledges, closes it, or the context is destroyed.
#[no_mangle]
pub extern "C" fn ws_options_set_acknowledgements(
    o: *mut ws_options,
    mode: RawAckMode,
) -> ws_status {
    with_options(o, "ws_options_set_acknowledgements", |opts| {
        opts.config.acks = match mode {
            x if x == ws_ack_mode::WS_ACK_OFF as RawAckMode => AckMode::Off,
            x if x == ws_ack_mode::WS_ACK_AUTO as RawAckMode => AckMode::Auto,
            x if x == ws_ack_mode::WS_ACK_MANUAL as RawAckMode => AckMode::Manual,
            _ => {
                return Err(Error::invalid(format!(
                    "acknowledgement mode {mode} is not a ws_ack_mode"
                )))
            }
        };
        Ok(())
    })
}

/// Client only: messages written and not yet acknowledged, at most (default 1024; 1 .. 2^20).
/// When the window is full the client writes nothing more until an acknowledgement arrives:
/// its queue backs up as it does when the network is slow (ws_send answers
/// WS_ERR_QUEUE_FULL once the queue is full). The bytes kept count in the memory budget
/// (ws_options_set_max_buffered_bytes), and the window is also full once they reach half of
/// it. This is also the bound on the duplicates one lost connection can cause.
#[no_mangle]
pub extern "C" fn ws_options_set_ack_window(o: *mut ws_options, messages: usize) -> ws_status {
    with_options(o, "ws_options_set_ack_window", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_ack_window")?;
        if messages == 0 || messages > MAX_ACK_WINDOW {
            return Err(Error::invalid(format!(
                "ack window {messages} is out of range (1 .. {MAX_ACK_WINDOW})"
            )));
        }
        opts.config.ack_window = messages;
        Ok(())
    })
}

/// Client only: `fn(ctx, conn, upto_seq, user)` is called when every message the context
/// accepted with a sequence number up to and including `upto_seq` (ws_send_seq answers the
/// number) is acknowledged by the server (docs/acks.md): the server's application has it
/// (WS_ACK_AUTO on the server: its on_receive returned; WS_ACK_MANUAL: the server's
/// application said so). It runs where the other callbacks run, at most once per read round
/// (reports are coalesced: `upto_seq` grows, never shrinks or repeats), and only on
/// connections that negotiated acknowledgements. `user` is passed to each call. NULL removes
/// it (default: none; ws_stats.messages_acked_seq gives the same number to a poller).
/// A server context answers WS_ERR_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn ws_options_set_on_acked(
    o: *mut ws_options,
    on_acked: ws_on_acked_fn,
    user: *mut c_void,
) -> ws_status {
    with_options(o, "ws_options_set_on_acked", |opts| {
        require_mode(opts, Mode::Client, "ws_options_set_on_acked")?;
        opts.on_acked = on_acked.map(|f| (f, UserPtr::new(user)));
        opts.config.report_acked = opts.on_acked.is_some();
        Ok(())
    })
}
