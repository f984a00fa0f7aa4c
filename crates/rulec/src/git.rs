//! Reading a pack from git objects (`rulec diff --git`), without a checkout: the `git`
//! command lists the tree and prints the blobs.

use anyhow::{Context as _, bail};
use rulec_pack::PackFiles;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where a revision range puts the two sides: `A..B` (A to B), `A...B` (the merge base of
/// A and B to B), or `A` (A to the working tree, `None`).
pub fn parse_range(pack_dir: &Path, range: &str) -> anyhow::Result<(String, Option<String>)> {
    let dir = existing_ancestor(pack_dir);
    if let Some((a, b)) = range.split_once("...") {
        let a = if a.is_empty() { "HEAD" } else { a };
        let b = if b.is_empty() { "HEAD" } else { b };
        let base = git(&dir, &["merge-base", a, b])?;
        return Ok((base.trim().to_owned(), Some(b.to_owned())));
    }
    if let Some((a, b)) = range.split_once("..") {
        let a = if a.is_empty() { "HEAD" } else { a };
        let b = if b.is_empty() { "HEAD" } else { b };
        return Ok((a.to_owned(), Some(b.to_owned())));
    }
    Ok((range.to_owned(), None))
}

/// The pack at `pack_dir` as it is in revision `rev` of the repository holding it.
pub fn read_pack(pack_dir: &Path, rev: &str) -> anyhow::Result<PackFiles> {
    let dir = existing_ancestor(pack_dir);
    let commit = git(
        &dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .with_context(|| format!("`{rev}` is not a commit of this repository"))?;
    let commit = commit.trim();
    let prefix = repo_prefix(pack_dir)?;
    // An empty pathspec is an error to git: a pack at the top lists the whole tree.
    let mut args = vec!["ls-tree", "-r", "-z", "--full-tree", commit];
    if !prefix.is_empty() {
        args.extend(["--", prefix.as_str()]);
    }
    let listing = git(&dir, &args)?;
    let mut entries = Vec::new();
    for entry in listing.split('\0').filter(|e| !e.is_empty()) {
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = meta.split(' ').collect();
        // Regular files only: a symbolic link's blob is its target's path, not its text.
        let (Some(&"100644" | &"100755"), Some(&"blob"), Some(sha)) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            continue;
        };
        let rel = path.strip_prefix(&prefix).unwrap_or(path).to_owned();
        if rulec_pack::is_pack_file(&rel) {
            entries.push((rel, (*sha).to_owned()));
        }
    }
    if entries.is_empty() {
        bail!(
            "`{}` holds no pack at revision `{rev}` (no pack.yaml, contracts or rules under `{prefix}`)",
            pack_dir.display()
        );
    }
    let blobs = cat_blobs(&dir, entries.iter().map(|(_, sha)| sha.as_str()))?;
    Ok(PackFiles::from_listing(
        pack_dir,
        entries.into_iter().map(|(rel, _)| rel).zip(blobs),
    ))
}

/// The nearest ancestor of `path` that exists (the pack may be gone from the work tree).
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut dir = if path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        path.to_path_buf()
    };
    while !dir.is_dir() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => return PathBuf::from("."),
        }
    }
    dir
}

/// The repository-relative path of `pack_dir`, ending in `/` (empty at the top).
fn repo_prefix(pack_dir: &Path) -> anyhow::Result<String> {
    let dir = existing_ancestor(pack_dir);
    let top = PathBuf::from(git(&dir, &["rev-parse", "--show-toplevel"])?.trim());
    let absolute = if pack_dir.is_absolute() {
        pack_dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(pack_dir)
    };
    // Resolve what exists (symlinks, `..`), keep the missing tail as written.
    let existing = absolute
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(&absolute)
        .to_path_buf();
    let tail = absolute.strip_prefix(&existing).unwrap_or(Path::new(""));
    let resolved = existing.canonicalize()?.join(tail);
    let top = top.canonicalize().unwrap_or(top);
    let rel = resolved.strip_prefix(&top).with_context(|| {
        format!(
            "`{}` is outside the repository at `{}`",
            pack_dir.display(),
            top.display()
        )
    })?;
    let mut prefix = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if !prefix.is_empty() {
        prefix.push('/');
    }
    Ok(prefix)
}

/// Runs `git -C dir args...` and returns its stdout.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `git` (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // Paths are bytes to git; a name that is not UTF-8 cannot be a rule's name anyway.
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The contents of blobs, in order, through one `git cat-file --batch`.
fn cat_blobs<'a>(dir: &Path, shas: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run `git cat-file`")?;
    let request: String = shas.map(|s| format!("{s}\n")).collect();
    let count = request.lines().count();
    let mut stdin = child.stdin.take().context("git stdin")?;
    // Written from a thread: git answers while it reads, and a full pipe would block both.
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut bytes = Vec::new();
    child
        .stdout
        .take()
        .context("git stdout")?
        .read_to_end(&mut bytes)?;
    let status = child.wait()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to git failed"))??;
    if !status.success() {
        bail!("git cat-file failed");
    }
    let mut blobs = Vec::with_capacity(count);
    let mut rest = bytes.as_slice();
    for _ in 0..count {
        let newline = rest
            .iter()
            .position(|&b| b == b'\n')
            .context("truncated git cat-file output")?;
        let header = String::from_utf8_lossy(&rest[..newline]).into_owned();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("unexpected git cat-file header `{header}`"))?;
        let start = newline + 1;
        let blob = rest
            .get(start..start + size)
            .context("truncated git cat-file output")?;
        blobs.push(blob.to_vec());
        rest = rest.get(start + size + 1..).unwrap_or_default();
    }
    Ok(blobs)
}
