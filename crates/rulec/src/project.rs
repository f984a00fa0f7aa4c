//! Loading and compiling a pack from the command line, and showing its diagnostics.

use anyhow::Context as _;
use rulec_compile::{CompiledPack, compile_pack};
use rulec_diagnostics::{Code, Diagnostic, render_human};
use rulec_pack::LintLevel;
use rulec_pack::{Pack, PackFiles, load_pack};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A pack read from disk and compiled.
pub struct Project {
    pub root: PathBuf,
    pub files: PackFiles,
    pub pack: Option<Pack>,
    pub compiled: Option<CompiledPack>,
    /// Findings of loading (pack.yaml, contracts, parsing, cycles, lints).
    pub load_diagnostics: Vec<Diagnostic>,
    /// Lint levels from pack.yaml.
    pub lint_levels: BTreeMap<Code, LintLevel>,
}

impl Project {
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let files = PackFiles::read_dir(root)
            .with_context(|| format!("cannot read pack directory `{}`", root.display()))?;
        Ok(Self::from_files(root, files))
    }

    /// Loads and compiles a pack already in memory (e.g. read from git objects).
    pub fn from_files(root: &Path, files: PackFiles) -> Self {
        let (pack, mut load_diagnostics) = load_pack(&files);
        let mut lint_levels = BTreeMap::new();
        if let Some(pack) = &pack {
            let (levels, problems) = rulec_pack::lint_levels(pack);
            lint_levels = levels;
            load_diagnostics.extend(problems);
        }
        let compiled = pack.as_ref().map(|pack| {
            let mut compiled = compile_pack(pack);
            let texts = pack
                .rules
                .iter()
                .map(|r| (r.name.clone(), r.text.clone()))
                .collect();
            rulec_substrait::check_encodable_pack(&mut compiled, &texts);
            compiled
        });
        Project {
            root: root.to_path_buf(),
            files,
            pack,
            compiled,
            load_diagnostics,
            lint_levels,
        }
    }

    /// Every diagnostic: load findings and each rule's, with the pack's lint levels
    /// applied, sorted by file and position.
    pub fn all_diagnostics(&self) -> Vec<Diagnostic> {
        let mut all = self.load_diagnostics.clone();
        if let Some(compiled) = &self.compiled {
            for rule in &compiled.rules {
                all.extend(rule.diagnostics.iter().cloned());
            }
        }
        let mut all = rulec_pack::apply_lint_levels(all, &self.lint_levels);
        rulec_diagnostics::sort(&mut all);
        all
    }

    /// The path to show for a pack-relative file.
    pub fn display_path(&self, file: &str) -> String {
        self.root.join(file).display().to_string()
    }

    /// Renders diagnostics for people, with source snippets; coloured when `color`.
    pub fn render_styled(&self, diagnostics: &[Diagnostic], color: bool) -> String {
        let mut out = String::new();
        for d in diagnostics {
            let source = d
                .file
                .as_deref()
                .and_then(|f| self.files.text(f))
                .and_then(Result::ok);
            let mut shown = d.clone();
            shown.file = d.file.as_deref().map(|f| self.display_path(f));
            out.push_str(&render_human(&shown, source, color));
            out.push('\n');
        }
        out
    }

    /// Renders diagnostics for stderr: coloured when stderr is a terminal.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        self.render_styled(
            diagnostics,
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
    }
}

/// The message for a rule name given on the command line that the pack does not define,
/// with the closest rule name as a hint.
pub fn no_such_rule(pack: &Pack, name: &str) -> String {
    let hint = rulec_diagnostics::did_you_mean(name, pack.rules.iter().map(|r| r.name.as_str()))
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!(
        "rulec: no rule `{name}` in pack `{}`{hint}",
        pack.manifest.name
    )
}
