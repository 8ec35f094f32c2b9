//! Test certificates, made at test time by tests/peers/mkcerts.sh (openssl CLI), once per test
//! process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The certificate directory, made once per test run.
pub fn certs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Directories of earlier runs whose process is gone are removed (one per process, so
        // that concurrent runs do not share one).
        if let Ok(entries) = std::fs::read_dir(tmp) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("tls-certs-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        let dir = tmp.join(format!("tls-certs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/mkcerts.sh");
        let st = Command::new("sh")
            .arg(&script)
            .arg(&dir)
            .status()
            .expect("run mkcerts.sh (needs the openssl CLI)");
        assert!(st.success(), "mkcerts.sh failed");
        dir
    })
}

/// The path of certificate file `name`.
pub fn cert(name: &str) -> Option<PathBuf> {
    Some(certs().join(name))
}
