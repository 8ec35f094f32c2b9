//! The C side of the handshake filter: the adapter that calls the application's
//! `ws_handshake_filter_fn`, and the `ws_request_*` functions that read the request it receives.
//! A `ws_handshake_request` pointer is a `CRequest` on the I/O thread's stack: it and every
//! string read from it live only until the filter returns.

use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::sync::Arc;

use super::errors::{guard, guard_value};
use super::ptr;
use super::types::{ws_handshake_request, ws_status};
use crate::engine::access::{Filter, Request};
use crate::engine::Error;

/// What a `ws_handshake_request` pointer points to during a filter call.
struct CRequest<'a> {
    req: &'a Request<'a>,
    path: CString,
    query: CString,
    origin: Option<CString>,
    /// Header values handed out so far: kept so that their pointers stay valid until the
    /// filter returns (a CString's bytes do not move when the vector grows).
    handed_out: RefCell<Vec<CString>>,
}

/// A C string of `bytes`, or None if they contain NUL (no request field can, but a C string
/// could not carry it).
fn c_string(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes).ok()
}

/// Wraps the application's C filter as an engine filter.
pub fn c_filter(
    f: unsafe extern "C" fn(*const ws_handshake_request, *mut c_void) -> std::os::raw::c_int,
    user: *mut c_void,
) -> Filter {
    // The user pointer crosses to the I/O thread as an integer; the application promised (in
    // ws_options_set_handshake_filter's contract) that it may be used there.
    let user = user as usize;
    Arc::new(move |req: &Request<'_>| {
        let r = CRequest {
            req,
            path: c_string(req.path.as_bytes()).unwrap_or_default(),
            query: c_string(req.query.as_bytes()).unwrap_or_default(),
            origin: req.header("Origin").and_then(c_string),
            handed_out: RefCell::new(Vec::new()),
        };
        // SAFETY: the application registered `f` with `user`; `r` outlives the call.
        super::callback::run(|| unsafe {
            f(
                &r as *const CRequest as *const ws_handshake_request,
                user as *mut c_void,
            )
        })
    })
}

/// Borrows the request behind a C pointer, None for NULL.
fn request<'a>(r: *const ws_handshake_request) -> Option<&'a CRequest<'a>> {
    // SAFETY: a non-NULL pointer is the one passed to the running filter (the caller's
    // obligation: it is valid only during that call).
    (!r.is_null()).then(|| unsafe { &*(r as *const CRequest) })
}

/// The path of the request target, e.g. "/logs" (never NULL for a valid `req`; NULL for NULL).
/// Valid until the filter returns.
#[no_mangle]
pub extern "C" fn ws_request_path(req: *const ws_handshake_request) -> *const c_char {
    guard_value(std::ptr::null(), || {
        request(req).map_or(std::ptr::null(), |r| r.path.as_ptr())
    })
}

/// The query of the request target without the '?', still percent-encoded, "" if none (NULL
/// for NULL `req`). Valid until the filter returns.
#[no_mangle]
pub extern "C" fn ws_request_query(req: *const ws_handshake_request) -> *const c_char {
    guard_value(std::ptr::null(), || {
        request(req).map_or(std::ptr::null(), |r| r.query.as_ptr())
    })
}

/// The Origin header as sent (browsers send one; other clients usually none), NULL if absent.
/// Valid until the filter returns.
#[no_mangle]
pub extern "C" fn ws_request_origin(req: *const ws_handshake_request) -> *const c_char {
    guard_value(std::ptr::null(), || {
        request(req)
            .and_then(|r| r.origin.as_ref())
            .map_or(std::ptr::null(), |o| o.as_ptr())
    })
}

/// The value of the first header field named `name` (case-insensitive), NULL if there is none
/// (or `req` or `name` is NULL). Valid until the filter returns.
#[no_mangle]
pub extern "C" fn ws_request_header(
    req: *const ws_handshake_request,
    name: *const c_char,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let Some(r) = request(req) else {
            return std::ptr::null();
        };
        let Ok(name) = ptr::try_str(name, "name") else {
            return std::ptr::null();
        };
        let Some(value) = r.req.header(name).and_then(c_string) else {
            return std::ptr::null();
        };
        let p = value.as_ptr();
        r.handed_out.borrow_mut().push(value);
        p
    })
}

/// Writes the peer's numeric address (e.g. "127.0.0.1" or "::1") as a NUL-terminated string
/// into `ip` (`ip_len` bytes; 46 always suffice) and its port into `*port` (may be NULL). From
/// a trusted reverse proxy (ws_options_add_trusted_proxy), the peer is the client its
/// Forwarded / X-Forwarded-For header names (port 0 when the header gives none), as for
/// ws_peer_address.
/// WS_ERR_INVALID_ARGUMENT when `req` or `ip` is NULL or `ip` is too small.
#[no_mangle]
pub extern "C" fn ws_request_peer_address(
    req: *const ws_handshake_request,
    ip: *mut c_char,
    ip_len: usize,
    port: *mut u16,
) -> ws_status {
    guard("ws_request_peer_address", || {
        let r =
            request(req).ok_or_else(|| Error::invalid("ws_request_peer_address: req is NULL"))?;
        let ip = ptr::try_out_text(ip, ip_len, "ws_request_peer_address: ip")?;
        ip.write(
            &r.req.peer.ip().to_string(),
            "ws_request_peer_address: ip_len",
        )?;
        if let Some(p) = ptr::opt_out(port) {
            p.write(r.req.peer.port());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    unsafe extern "C" fn probe(req: *const ws_handshake_request, user: *mut c_void) -> i32 {
        let out = &mut *(user as *mut Vec<String>);
        let s = |p: *const c_char| {
            if p.is_null() {
                "NULL".to_string()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        out.push(s(ws_request_path(req)));
        out.push(s(ws_request_query(req)));
        out.push(s(ws_request_origin(req)));
        out.push(s(ws_request_header(req, c"x-TEST".as_ptr())));
        out.push(s(ws_request_header(req, c"absent".as_ptr())));
        let mut ip = [0 as c_char; 46];
        let mut port = 0u16;
        assert_eq!(
            ws_request_peer_address(req, ip.as_mut_ptr(), ip.len(), &mut port),
            ws_status::WS_OK
        );
        out.push(format!("{}:{port}", s(ip.as_ptr())));
        let mut small = [0 as c_char; 4];
        assert_eq!(
            ws_request_peer_address(req, small.as_mut_ptr(), small.len(), std::ptr::null_mut()),
            ws_status::WS_ERR_INVALID_ARGUMENT
        );
        403
    }

    #[test]
    fn filter_reads_the_request() {
        let mut seen: Vec<String> = Vec::new();
        let f = c_filter(probe, &mut seen as *mut Vec<String> as *mut c_void);
        let headers = [
            httparse::Header {
                name: "X-Test",
                value: b"one",
            },
            httparse::Header {
                name: "x-test",
                value: b"two",
            },
        ];
        let req = Request {
            path: "/p",
            query: "a=1",
            peer: "127.0.0.1:5".parse().unwrap(),
            headers: &headers,
        };
        assert_eq!(f(&req), 403);
        assert_eq!(seen, ["/p", "a=1", "NULL", "one", "NULL", "127.0.0.1:5"]);
        assert!(ws_request_path(std::ptr::null()).is_null());
        assert!(ws_request_header(std::ptr::null(), c"x".as_ptr()).is_null());
    }
}
