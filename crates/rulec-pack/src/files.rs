//! The in-memory file set of a pack.

use rulec_diagnostics::{Diagnostic, codes};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Directories under a pack root that never hold rules.
const NOT_RULE_DIRS: &[&str] = &["contracts", "data", "out", "target"];

/// A pack's files: relative paths (with `/`) to their bytes. Only `pack.yaml`,
/// `contracts/*.yaml` and `.sql` files are kept.
#[derive(Debug, Clone, Default)]
pub struct PackFiles {
    root: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
}

impl PackFiles {
    /// An in-memory pack (for tests and for packs read from git objects).
    pub fn from_memory(
        root: impl Into<PathBuf>,
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Self {
        PackFiles {
            root: root.into(),
            files: files.into_iter().collect(),
        }
    }

    /// A pack from a listing of files (relative paths with `/`, e.g. a git tree): only the
    /// files [`PackFiles::read_dir`] would read are kept.
    pub fn from_listing(
        root: impl Into<PathBuf>,
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Self {
        PackFiles {
            root: root.into(),
            files: files
                .into_iter()
                .filter(|(path, _)| is_pack_file(path))
                .collect(),
        }
    }

    /// Reads a pack directory: `pack.yaml`, `contracts/*.yaml`, and every `.sql` file below
    /// the root outside hidden directories and `contracts/`, `data/`, `out/`, `target/`.
    pub fn read_dir(root: &Path) -> std::io::Result<Self> {
        let mut files = BTreeMap::new();
        let manifest = root.join(crate::manifest::MANIFEST_FILE);
        if manifest.is_file() {
            files.insert(
                crate::manifest::MANIFEST_FILE.to_owned(),
                std::fs::read(&manifest)?,
            );
        } else if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a directory", root.display()),
            ));
        }
        let contracts = root.join("contracts");
        if contracts.is_dir() {
            for entry in sorted_entries(&contracts)? {
                let path = entry.path();
                let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
                if path.is_file() && is_yaml {
                    let rel = format!("contracts/{}", entry.file_name().to_string_lossy());
                    files.insert(rel, std::fs::read(&path)?);
                }
            }
        }
        collect_sql(root, root, &mut files)?;
        Ok(PackFiles {
            root: root.to_path_buf(),
            files,
        })
    }

    /// Replaces a file's contents (`None` removes it). Paths that are not pack files
    /// ([`is_pack_file`]) are ignored. Returns whether the file set changed.
    pub fn set(&mut self, path: &str, contents: Option<Vec<u8>>) -> bool {
        if !is_pack_file(path) {
            return false;
        }
        match contents {
            Some(bytes) => {
                if self.files.get(path) == Some(&bytes) {
                    return false;
                }
                self.files.insert(path.to_owned(), bytes);
                true
            }
            None => self.files.remove(path).is_some(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn root_display(&self) -> String {
        self.root.display().to_string()
    }

    /// The text of a file: `None` when absent, an error diagnostic when not UTF-8.
    /// A UTF-8 byte order mark is skipped.
    pub fn text(&self, path: &str) -> Option<Result<&str, Diagnostic>> {
        let bytes = self.files.get(path)?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        Some(std::str::from_utf8(bytes).map_err(|err| {
            // The position of the first invalid byte: the prefix before it is valid UTF-8.
            let valid = std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let position = rulec_diagnostics::Span::point(
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(column).unwrap_or(u32::MAX),
            );
            Diagnostic::error(
                codes::INVALID_ENCODING,
                format!(
                    "`{path}` is not valid UTF-8 (invalid byte at offset {})",
                    err.valid_up_to()
                ),
            )
            .in_file(path)
            .at(position)
        }))
    }

    pub fn rule_paths(&self) -> Vec<String> {
        self.files
            .keys()
            .filter(|p| p.ends_with(".sql"))
            .cloned()
            .collect()
    }

    pub fn contract_paths(&self) -> Vec<String> {
        self.files
            .keys()
            .filter(|p| {
                p.starts_with("contracts/") && (p.ends_with(".yaml") || p.ends_with(".yml"))
            })
            .cloned()
            .collect()
    }
}

/// The stem of a relative path: `dir/x.sql` → `x`.
pub(crate) fn file_stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".sql").unwrap_or(name).to_owned()
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<std::fs::DirEntry>> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    Ok(entries)
}

/// Whether a pack-relative path is one of the files a pack is made of: `pack.yaml`,
/// `contracts/*.yaml`, and `.sql` files outside hidden directories and `contracts/`,
/// `data/`, `out/`, `target/`.
pub fn is_pack_file(path: &str) -> bool {
    if path == crate::manifest::MANIFEST_FILE {
        return true;
    }
    let parts: Vec<&str> = path.split('/').collect();
    if let ["contracts", name] = parts.as_slice() {
        return !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml"));
    }
    path.ends_with(".sql")
        && parts.iter().all(|p| !p.is_empty() && !p.starts_with('.'))
        && !(parts.len() > 1 && NOT_RULE_DIRS.contains(&parts[0]))
}

fn collect_sql(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    for entry in sorted_entries(dir)? {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if dir == root && NOT_RULE_DIRS.contains(&name.as_str()) {
                continue;
            }
            collect_sql(root, &path, files)?;
        } else if name.ends_with(".sql") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.insert(rel, std::fs::read(&path)?);
        }
    }
    Ok(())
}
