//! `rulec diff`.

use crate::git;
use anyhow::{Context as _, bail};
use rulec_driver::Project;
use rulec_pack::PackFiles;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What to compare: two pack directories, or two versions of one pack in git.
pub enum Sides {
    Dirs(PathBuf, PathBuf),
    Git { range: String, pack: PathBuf },
}

pub fn run(sides: Sides, json: bool) -> anyhow::Result<ExitCode> {
    let (old, new) = match sides {
        Sides::Dirs(old, new) => (load_dir(&old)?, load_dir(&new)?),
        Sides::Git { range, pack } => {
            let (old_rev, new_rev) = git::parse_range(&pack, &range)?;
            let old = loaded(
                format!("{old_rev}:{}", pack.display()),
                &pack,
                git::read_pack(&pack, &old_rev)?,
            )?;
            let new = match new_rev {
                Some(rev) => loaded(
                    format!("{rev}:{}", pack.display()),
                    &pack,
                    git::read_pack(&pack, &rev)?,
                )?,
                None => load_dir(&pack)?,
            };
            (old, new)
        }
    };
    let (Some(old_pack), Some(old_compiled)) = (&old.1.pack, &old.1.compiled) else {
        bail!("internal: a loaded pack without a compiled form")
    };
    let (Some(new_pack), Some(new_compiled)) = (&new.1.pack, &new.1.compiled) else {
        bail!("internal: a loaded pack without a compiled form")
    };
    let diff = rulec_diff::diff(
        &rulec_diff::Side {
            label: old.0.clone(),
            pack: old_pack,
            compiled: old_compiled,
        },
        &rulec_diff::Side {
            label: new.0.clone(),
            pack: new_pack,
            compiled: new_compiled,
        },
    );
    let text = if json {
        rulec_diff::render_json(&diff)
    } else {
        rulec_diff::render_human(&diff)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(if diff.has_errors() {
        ExitCode::from(2)
    } else if diff.changed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn load_dir(dir: &Path) -> anyhow::Result<(String, Project)> {
    let files = PackFiles::read_dir(dir)
        .with_context(|| format!("cannot read pack directory `{}`", dir.display()))?;
    loaded(dir.display().to_string(), dir, files)
}

/// A compiled side, or an error when its pack cannot be loaded at all.
fn loaded(label: String, root: &Path, files: PackFiles) -> anyhow::Result<(String, Project)> {
    let project = Project::from_files(root, files);
    if project.pack.is_none() || project.compiled.is_none() {
        eprint!("{}", project.render(&project.all_diagnostics()));
        bail!("cannot load the pack `{label}`");
    }
    Ok((label, project))
}
