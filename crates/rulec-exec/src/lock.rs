//! The output directory's lock: one run at a time per output directory (a file lock held by
//! the process; on object storage, a lock object, see [`crate::objects::lock`]).

use rulec_diagnostics::{Diagnostic, codes};
use std::fs::{File, TryLockError};
use std::path::Path;

pub const LOCK_FILE: &str = ".rulec.lock";

/// Held for the whole run. A local lock is released when dropped (or when the process
/// dies); one on object storage by [`OutputLock::release`].
#[derive(Debug)]
pub struct OutputLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    File(File),
    Object(crate::objects::ObjectLock),
}

impl OutputLock {
    /// Releases the lock.
    pub async fn release(self) {
        match self.held {
            Held::File(file) => drop(file),
            Held::Object(lock) => lock.release().await,
        }
    }
}

/// Locks `out`: a local directory as [`lock_output`] does; a prefix on object storage by
/// creating its lock object (never waited for: a run that died leaves it, and the error
/// says how to remove it).
pub async fn lock_location(
    out: &crate::Location,
    wait: bool,
    on_wait: impl FnOnce(),
) -> Result<OutputLock, Diagnostic> {
    match out {
        crate::Location::Local(dir) => lock_output(dir, wait, on_wait),
        crate::Location::Object(object) => {
            let store = crate::objects::open(object)?;
            Ok(OutputLock {
                held: Held::Object(crate::objects::lock(store, object).await?),
            })
        }
    }
}

/// Locks `out_dir` (creating it). When another run holds it: `on_wait` is called and the
/// lock waited for, or, when `wait` is false, an error names the directory.
pub fn lock_output(
    out_dir: &Path,
    wait: bool,
    on_wait: impl FnOnce(),
) -> Result<OutputLock, Diagnostic> {
    let error = |what: &str, e: &dyn std::fmt::Display| {
        Diagnostic::error(
            codes::WRITE_FAILED,
            format!("cannot {what} `{}`: {e}", out_dir.display()),
        )
    };
    std::fs::create_dir_all(out_dir).map_err(|e| error("create the output directory", &e))?;
    let path = out_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| error("open the lock file in", &e))?;
    match file.try_lock() {
        Ok(()) => Ok(OutputLock {
            held: Held::File(file),
        }),
        Err(TryLockError::WouldBlock) if wait => {
            on_wait();
            file.lock().map_err(|e| error("lock", &e))?;
            Ok(OutputLock {
                held: Held::File(file),
            })
        }
        Err(TryLockError::WouldBlock) => Err(Diagnostic::error(
            codes::OUTPUT_LOCKED,
            format!("another rulec run is writing to `{}`", out_dir.display()),
        )),
        Err(TryLockError::Error(e)) => Err(error("lock", &e)),
    }
}
