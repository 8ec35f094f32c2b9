//! Typed conversions between the raw pointers C passes in and the Rust values behind them: the
//! one place in the C API where a pointer becomes a reference, a slice, a string or a written
//! out-parameter, and where a `Box` becomes a pointer for C and back.
//!
//! Why one module: every entry point used to cast its pointers case by case, each cast with its
//! own NULL check, message and SAFETY comment. Here each C type has one way in and one way out
//! (in the spirit of rustls-ffi's `try_ref_from_ptr!` / `free_box`), so an entry point reads as
//! "take the options", "take the bytes", "write this out-parameter", and is obviously right:
//! - a C type owned through a `Box` names its Rust type once ([`Boxed`]); [`to_c_box`] hands it
//!   to C, [`try_mut`] borrows it back, [`free_box`] frees it;
//! - a NULL where one is not allowed becomes `WS_ERR_INVALID_ARGUMENT` naming the argument;
//! - the soundness of each conversion rests on one obligation of the C caller, stated in the
//!   header: a non-NULL pointer points to what its type says, for the length of the call.
//!
//! `ws_context` is not a pointer at all but a generation-numbered handle: see `handles.rs`.

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};

use super::options::Options;
use super::types::ws_options;
use crate::engine::Error;

/// An opaque C type that is a `Box<Self::Rust>` behind the pointer C holds.
pub trait Boxed {
    /// What the pointer really points to.
    type Rust;
}

impl Boxed for ws_options {
    type Rust = Options;
}

/// Hands `value` to C as an owned pointer (freed with [`free_box`]).
pub fn to_c_box<C: Boxed>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)) as *mut C
}

/// Frees what [`to_c_box`] handed out; NULL is ignored. C frees each pointer once (its
/// obligation).
pub fn free_box<C: Boxed>(p: *mut C) {
    if !p.is_null() {
        // SAFETY: `p` came from to_c_box::<C> and is freed once (the C caller's obligation).
        drop(unsafe { Box::from_raw(p as *mut C::Rust) });
    }
}

/// Borrows the value behind a pointer from [`to_c_box`] for the length of one call.
pub fn try_mut<'a, C: Boxed>(p: *mut C, what: &str) -> Result<&'a mut C::Rust, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL pointers of type C come from to_c_box::<C> and stay valid, and are not
    // used by another thread meanwhile, until free_box (the C caller's obligation).
    Ok(unsafe { &mut *(p as *mut C::Rust) })
}

/// Shared borrow of the value behind a pointer from [`to_c_box`] for the length of one call.
pub fn try_ref<'a, C: Boxed>(p: *const C, what: &str) -> Result<&'a C::Rust, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: as in try_mut; only read.
    Ok(unsafe { &*(p as *const C::Rust) })
}

/// Copies a plain C struct the caller passes by pointer (e.g. the callback table).
pub fn try_copy<T: Copy>(p: *const T, what: &str) -> Result<T, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: a non-NULL pointer to a readable, initialised T (the C caller's obligation).
    Ok(unsafe { p.read() })
}

/// The `len` bytes at `data`; NULL is allowed only with `len` 0.
pub fn try_bytes<'a>(data: *const c_void, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: `len` readable bytes at `data` for the length of the call (the caller's
    // obligation).
    Ok(unsafe { std::slice::from_raw_parts(data as *const u8, len) })
}

/// The bytes of a NUL-terminated C string (without the NUL).
pub fn try_c_bytes<'a>(p: *const c_char, what: &str) -> Result<&'a [u8], Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: a non-NULL pointer to a NUL-terminated string (the C caller's obligation).
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A NUL-terminated UTF-8 string argument; NULL or invalid UTF-8 is an `InvalidArgument`.
pub fn try_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    std::str::from_utf8(try_c_bytes(p, what)?)
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// Like [`try_str`], with NULL answered as `None`.
pub fn try_opt_str<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        try_str(p, what).map(Some)
    }
}

/// An out-parameter checked non-NULL, written with [`Out::write`].
pub struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Stores `value` in the caller's variable.
    pub fn write(&self, value: T) {
        // SAFETY: non-NULL (checked when made) and writable (the C caller's obligation).
        unsafe { self.0.write(value) }
    }
}

/// A required out-parameter.
pub fn try_out<T>(p: *mut T, what: &str) -> Result<Out<T>, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    Ok(Out(p))
}

/// An optional out-parameter: NULL means "not wanted".
pub fn opt_out<T>(p: *mut T) -> Option<Out<T>> {
    (!p.is_null()).then_some(Out(p))
}

/// A caller's buffer of `len` bytes to write a NUL-terminated string into.
pub fn try_out_text(p: *mut c_char, len: usize, what: &str) -> Result<OutText, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    Ok(OutText { p, len })
}

/// See [`try_out_text`].
pub struct OutText {
    p: *mut c_char,
    len: usize,
}

impl OutText {
    /// Writes `text` and its NUL; `InvalidArgument` (nothing written) when it does not fit.
    pub fn write(self, text: &str, what: &str) -> Result<(), Error> {
        if text.len() + 1 > self.len || text.contains('\0') {
            return Err(Error::invalid(format!(
                "{what}: {} bytes are too small for {text}",
                self.len
            )));
        }
        // SAFETY: `p` has `len` writable bytes (the C caller's obligation), checked to fit.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.p as *mut u8, text.len());
            *self.p.add(text.len()) = 0;
        }
        Ok(())
    }
}

/// An out-parameter struct that starts with a `uint32_t struct_size` the caller set to the size
/// it knows, so that fields added later are never written past an older caller's struct.
pub fn try_sized_out<T: Copy>(p: *mut T, what: &str) -> Result<SizedOut<T>, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: the struct starts with a readable u32 (the C caller's obligation). Only that field
    // is read: the caller's struct may be shorter than T.
    let size = unsafe { (p as *const u32).read() } as usize;
    if size < std::mem::size_of::<u32>() {
        return Err(Error::invalid(format!(
            "{what}: struct_size is not set (use sizeof)"
        )));
    }
    Ok(SizedOut {
        p,
        size: size.min(std::mem::size_of::<T>()),
    })
}

/// See [`try_sized_out`].
pub struct SizedOut<T> {
    p: *mut T,
    size: usize,
}

impl<T: Copy> SizedOut<T> {
    /// The bytes of the caller's struct that will be written (at most `size_of::<T>()`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Copies the first `size()` bytes of `value`.
    pub fn write(&self, value: &T) {
        // SAFETY: `size` bytes are within both `value` and the caller's struct (whose size the
        // caller stated in struct_size).
        unsafe {
            std::ptr::copy_nonoverlapping(
                value as *const T as *const u8,
                self.p as *mut u8,
                self.size,
            )
        }
    }
}

/// The value behind a `user` pointer that this library itself registered as `Arc::as_ptr` of an
/// `Arc<T>` (the legacy layer's own callbacks).
///
/// # Safety
/// `p` is `Arc::as_ptr` of an `Arc<T>` that outlives the returned reference.
pub unsafe fn arc_user<'a, T>(p: *mut c_void) -> &'a T {
    &*(p as *const T)
}

/// The application's `user` pointer, carried across threads as an address: the library never
/// dereferences it, it only passes it back to the application's functions.
#[derive(Clone, Copy)]
pub struct UserPtr(usize);

impl UserPtr {
    /// Keeps `p` to pass back later.
    pub fn new(p: *mut c_void) -> UserPtr {
        UserPtr(p as usize)
    }

    /// The pointer as the application gave it.
    pub fn get(self) -> *mut c_void {
        self.0 as *mut c_void
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorKind;

    #[derive(Clone, Copy, Default)]
    #[repr(C)]
    struct Two {
        struct_size: u32,
        a: u64,
        b: u64,
    }

    #[test]
    fn sized_out_writes_only_what_the_caller_declared() {
        // An older caller knows only struct_size and `a`.
        let mut buf = [0xaau8; std::mem::size_of::<Two>()];
        let known = std::mem::offset_of!(Two, b);
        buf[..4].copy_from_slice(&(known as u32).to_ne_bytes());
        let out = try_sized_out(buf.as_mut_ptr() as *mut Two, "t").unwrap();
        assert_eq!(out.size(), known);
        out.write(&Two {
            struct_size: known as u32,
            a: 7,
            b: 9,
        });
        assert_eq!(&buf[8..16], &7u64.to_ne_bytes());
        assert!(
            buf[known..].iter().all(|&x| x == 0xaa),
            "wrote past struct_size"
        );
        let mut unset = Two::default();
        assert_eq!(
            try_sized_out(&mut unset, "t").err().unwrap().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn out_text_refuses_what_does_not_fit_and_writes_nothing() {
        let mut buf = [b'x' as c_char; 4];
        let t = try_out_text(buf.as_mut_ptr(), buf.len(), "ip").unwrap();
        assert!(t.write("abcd", "ip").is_err());
        assert!(buf.iter().all(|&c| c == b'x' as c_char));
        let t = try_out_text(buf.as_mut_ptr(), buf.len(), "ip").unwrap();
        t.write("abc", "ip").unwrap();
        assert_eq!(buf, [b'a', b'b', b'c', 0].map(|c| c as c_char));
        assert!(try_out_text(std::ptr::null_mut(), 4, "ip").is_err());
    }

    #[test]
    fn null_is_refused_naming_the_argument_and_empty_bytes_may_be_null() {
        let e = try_str(std::ptr::null(), "path").err().unwrap();
        assert_eq!(e.message, "path is NULL");
        assert_eq!(try_bytes(std::ptr::null(), 0, "data").unwrap(), b"");
        assert!(try_bytes(std::ptr::null(), 1, "data").is_err());
        assert_eq!(try_opt_str(std::ptr::null(), "r").unwrap(), None);
        assert_eq!(
            try_str(c"\xff".as_ptr(), "s").err().unwrap().message,
            "s is not valid UTF-8"
        );
    }
}
