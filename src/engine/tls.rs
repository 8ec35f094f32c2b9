//! TLS settings loaded at context creation. Not built yet: a context with TLS on is refused with
//! a TLS error, so nobody believes they have encryption when they do not.

use super::config::Config;
use super::error::{Error, ErrorKind, Result};

/// Loaded certificates and keys, ready to wrap connections.
#[derive(Debug)]
pub struct TlsSetup {
    _private: (),
}

impl TlsSetup {
    /// Loads and checks the TLS files named in `config`.
    pub fn load(_config: &Config) -> Result<TlsSetup> {
        Err(Error::new(ErrorKind::Tls, "TLS support is not built yet"))
    }
}
