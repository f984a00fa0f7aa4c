//! Publishing a product: readers see one complete version at every instant.
//!
//! A product's new version is built whole — data files, plan, errors, manifest last — in a
//! staging directory beside the products (`<out>/.rulec-staging/<product>-<nonce>/`, hidden
//! from globs and dataset readers by its `.`), then swapped with the product directory in one
//! atomic step: on Linux and macOS the two directories are exchanged (`renameat2` with
//! `RENAME_EXCHANGE`, `renamex_np` with `RENAME_SWAP`), so `<out>/<product>` is at every
//! instant either the old directory or the new one, never missing and never mixed. The old
//! version, now in the staging place, is removed after. A run killed at any point leaves the
//! published directory whole (the old version or the new); what it leaves in staging is
//! removed by the next run, which holds the output lock.
//!
//! Where directories cannot be exchanged (another system, or a file system without the
//! operation), the old directory is renamed away and the new one into place: for that
//! moment the product is absent (a reader finds no files, never a partial product).
//!
//! Data files get names no earlier version used (`part-<nonce>-<n>.parquet`), so a reader
//! that listed the old version and opens a file after the swap gets "not found", never a
//! file of the other version.

use std::io;
use std::path::{Path, PathBuf};

/// The directory, in the output directory, where versions are built and old ones removed.
pub const STAGING_DIR: &str = ".rulec-staging";

/// A new version of a product, being built.
#[derive(Debug)]
pub struct Staging {
    /// Where the version is built.
    pub dir: PathBuf,
    /// The name new files of this version carry (`part-<nonce>-…`).
    pub nonce: String,
}

impl Staging {
    /// A fresh, empty staging directory for `product` in the staging directory `root`.
    pub fn create(root: &Path, product: &str) -> io::Result<Staging> {
        let nonce = nonce();
        let dir = root.join(format!("{product}-{nonce}"));
        std::fs::create_dir_all(&dir)?;
        Ok(Staging { dir, nonce })
    }

    /// Publishes the staged version as `product_dir` (see the module's doc), then removes the
    /// version it replaced. On an error, `product_dir` is as it was and the staged version
    /// is removed.
    pub fn publish(self, product_dir: &Path) -> io::Result<()> {
        let result = swap_in(&self.dir, product_dir);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        result
    }

    /// Gives up the staged version.
    pub fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name no other version of the product uses: the time and the process.
pub(crate) fn nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{nanos:x}-{:x}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Puts `staged` in place of `product_dir`, then removes the old version.
fn swap_in(staged: &Path, product_dir: &Path) -> io::Result<()> {
    crate::state::sync_dir(staged)?;
    let parent = product_dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    if std::fs::symlink_metadata(product_dir).is_err() {
        std::fs::rename(staged, product_dir)?;
        let _ = crate::state::sync_dir(parent);
        return Ok(());
    }
    match exchange(staged, product_dir) {
        Ok(()) => {}
        Err(e) if exchange_unsupported(&e) => {
            // Rename the old version away, then the new one in.
            let away = staged.with_extension("old");
            std::fs::rename(product_dir, &away)?;
            if let Err(e) = std::fs::rename(staged, product_dir) {
                let _ = std::fs::rename(&away, product_dir);
                return Err(e);
            }
            let _ = std::fs::remove_dir_all(&away);
            let _ = crate::state::sync_dir(parent);
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    let _ = crate::state::sync_dir(parent);
    // `staged` now holds the old version.
    let _ = std::fs::remove_dir_all(staged);
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Whether the system or the file system cannot exchange directories.
fn exchange_unsupported(e: &io::Error) -> bool {
    const EINVAL: i32 = 22;
    const ENOSYS: i32 = 38;
    const ENOTSUP: i32 = 95;
    e.kind() == io::ErrorKind::Unsupported
        || matches!(e.raw_os_error(), Some(EINVAL | ENOSYS | ENOTSUP))
}

/// Removes what interrupted runs left in the staging directory `root`. Called with the
/// output lock held.
pub fn clean_staging(root: &Path) {
    let _ = std::fs::remove_dir_all(root);
}

/// Removes the staging directory `root` once a run has published or discarded all it built.
pub fn remove_empty_staging(root: &Path) {
    let _ = std::fs::remove_dir(root);
}

/// Hard-links (or, across file systems, copies) `from` to `to`: an appended version reuses
/// the files of the one it extends.
pub fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
}
