//! Helpers for unit tests: fresh scratch folders.

use camino::Utf8PathBuf;

/// A new empty folder under the system's temp folder, unique to this call.
pub fn temp_dir(name: &str) -> Utf8PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let base = Utf8PathBuf::from_path_buf(std::env::temp_dir()).expect("a UTF-8 temp folder");
    let dir = base.join(format!("xtask-{name}-{}-{n}", std::process::id()));
    let _ = fs_err::remove_dir_all(&dir);
    fs_err::create_dir_all(&dir).unwrap();
    dir
}
