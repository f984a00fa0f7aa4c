//! The driver: load a pack, check it, keep the result.
//!
//! A [`Project`] is one pack's files (read from disk, with unsaved editor buffers laid over
//! them) and the result of checking them. Checking is incremental: every rule's result is
//! kept under its rule key (`rulec_compile::RuleMemo`), a digest of everything planning it reads (its
//! text and the schemas of the tables it names). After an edit only the rules whose key
//! changed are planned again: the edited rule, and its readers only when its output schema
//! changed. A [`CheckCache`] on disk keeps the same results across processes for
//! `rulec check` (the pre-commit case).
//!
//! The CLI, the language server, the fuzz targets and the integration tests all check packs
//! through this crate, so they see the same diagnostics.

mod cache;
mod report;

pub use cache::{CACHE_DIR, CacheStatus, CheckCache};
pub use report::{CheckReport, ColumnReport, RuleReport};

use rulec_compile::{CompiledPack, CompiledRule, RuleMemo};
use rulec_diagnostics::{Code, Diagnostic, render_human};
use rulec_pack::{LintLevel, Pack, PackFiles, ParseMemo, Rule, RuleSummary, load_pack_with};
use rulec_syntax::SqlDialect;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A pack, its files and the result of its last check.
pub struct Project {
    pub root: PathBuf,
    pub files: PackFiles,
    pub pack: Option<Pack>,
    pub compiled: Option<CompiledPack>,
    /// Findings of loading (pack.yaml, contracts, parsing, cycles, lints).
    pub load_diagnostics: Vec<Diagnostic>,
    /// Lint levels from pack.yaml.
    pub lint_levels: BTreeMap<Code, LintLevel>,
    /// What the last check planned and what it reused.
    pub stats: CheckStats,
    /// The last check's results by rule key (with plans), reused by the next check.
    memory: HashMap<String, CompiledRule>,
    /// The last check's rule summaries by [`summary_key`], so unchanged texts are not
    /// parsed again.
    summaries: HashMap<String, RuleSummary>,
    /// Results kept on disk between processes, when enabled.
    cache: Option<CheckCache>,
    threads: usize,
}

/// What one check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Rules planned by this check, in dependency order.
    pub planned: Vec<String>,
    /// Rules whose earlier result was reused (from memory or from the disk cache).
    pub reused: Vec<String>,
    /// How the disk cache was found, when one is used.
    pub cache: Option<CacheStatus>,
}

impl Project {
    /// Reads the pack directory `root` and checks it.
    pub fn load(root: &Path) -> std::io::Result<Self> {
        warm_up_planning();
        Ok(Self::from_files(root, read_pack_dir(root)?))
    }

    /// [`Project::load`], reusing and updating the on-disk check cache of the pack (see
    /// [`CheckCache`]). A cache that cannot be read or written is ignored.
    pub fn load_cached(root: &Path, cache_dir: &Path) -> std::io::Result<Self> {
        warm_up_planning();
        let mut project = Self::unchecked(root, read_pack_dir(root)?);
        project.cache = Some(CheckCache::open(cache_dir));
        project.check();
        Ok(project)
    }

    /// Checks a pack already in memory (e.g. read from git objects).
    pub fn from_files(root: &Path, files: PackFiles) -> Self {
        let mut project = Self::unchecked(root, files);
        project.check();
        project
    }

    fn unchecked(root: &Path, files: PackFiles) -> Self {
        Project {
            root: root.to_path_buf(),
            files,
            pack: None,
            compiled: None,
            load_diagnostics: Vec::new(),
            lint_levels: BTreeMap::new(),
            stats: CheckStats::default(),
            memory: HashMap::new(),
            summaries: HashMap::new(),
            cache: None,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        }
    }

    /// Replaces a pack file's contents (`None` removes it); `path` is pack-relative with
    /// `/`. Files that are not pack files are ignored. Returns whether anything changed;
    /// call [`Project::check`] after a batch of changes.
    pub fn set_file(&mut self, path: &str, contents: Option<Vec<u8>>) -> bool {
        self.files.set(path, contents)
    }

    /// Checks the pack's current files, reusing every rule result whose key is unchanged.
    pub fn check(&mut self) {
        let known = Summaries {
            memory: &self.summaries,
            cache: self.cache.as_ref(),
        };
        let (pack, mut load_diagnostics) = load_pack_with(&self.files, &known);
        let mut lint_levels = BTreeMap::new();
        if let Some(pack) = &pack {
            let (levels, problems) = rulec_pack::lint_levels(pack);
            lint_levels = levels;
            load_diagnostics.extend(problems);
        }
        let mut stats = CheckStats::default();
        let compiled = pack.as_ref().map(|pack| {
            let memo = Memo {
                memory: &self.memory,
                cache: self.cache.as_ref(),
            };
            let compiled = rulec_compile::compile_pack_memo(pack, self.threads, &memo);
            for rule in &compiled.rules {
                if rule.reused {
                    stats.reused.push(rule.name.clone());
                } else {
                    stats.planned.push(rule.name.clone());
                }
            }
            compiled
        });
        // Keep this check's results only: memory stays the size of the pack.
        self.memory = compiled
            .iter()
            .flat_map(|c| &c.rules)
            .filter(|r| !r.reused || r.plan.is_some())
            .map(|r| (r.key.clone(), r.clone()))
            .collect();
        self.summaries = pack
            .iter()
            .flat_map(|p| p.rules.iter().map(|r| (p.dialect, r)))
            .map(|(dialect, r)| (summary_key(&r.file, &r.text, dialect), r.summary.clone()))
            .collect();
        if let (Some(cache), Some(compiled)) = (&mut self.cache, &compiled) {
            stats.cache = Some(cache.status());
            cache.store(compiled, &self.summaries);
        }
        self.pack = pack;
        self.compiled = compiled;
        self.load_diagnostics = load_diagnostics;
        self.lint_levels = lint_levels;
        self.stats = stats;
    }

    /// Every diagnostic: load findings and each rule's (planning, Substrait encoding,
    /// product settings), with the pack's lint levels applied, sorted by file and position.
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

    /// The `rulec check --format json` report of `diagnostics` (DESIGN §6).
    pub fn report(&self, diagnostics: &[Diagnostic]) -> CheckReport {
        report::check_report(self, diagnostics)
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

/// The key of a rule text's [`RuleSummary`]: `sha256:<hex>` of the file name, dialect, text
/// and rulec's version.
pub fn summary_key(file: &str, text: &str, dialect: SqlDialect) -> String {
    let mut bytes = Vec::with_capacity(64 + file.len() + text.len());
    for part in [
        "rulec-summary-v1",
        env!("CARGO_PKG_VERSION"),
        dialect.name(),
        file,
        text,
    ] {
        bytes.extend_from_slice(&part.len().to_le_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    rulec_contract::sha256_hex(&bytes)
}

/// Rule summaries known from the last check (in memory) or from the disk cache.
struct Summaries<'a> {
    memory: &'a HashMap<String, RuleSummary>,
    cache: Option<&'a CheckCache>,
}

impl ParseMemo for Summaries<'_> {
    fn summary(&self, file: &str, text: &str, dialect: SqlDialect) -> Option<RuleSummary> {
        let key = summary_key(file, text, dialect);
        self.memory
            .get(&key)
            .cloned()
            .or_else(|| self.cache.and_then(|c| c.summary(&key)))
    }
}

/// Builds the planner's and the Substrait producer's one-time state (function registry,
/// the standard Substrait signatures) on another thread while this one reads the pack, when there is a
/// second core. Whoever plans first waits for it (they are `LazyLock`s).
fn warm_up_planning() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cores > 1 {
        let _ = std::thread::Builder::new()
            .name("rulec-warm-up".to_owned())
            .spawn(|| {
                rulec_compile::Functions::get();
                rulec_substrait::warm_up();
            });
    }
}

fn read_pack_dir(root: &Path) -> std::io::Result<PackFiles> {
    PackFiles::read_dir(root).map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot read pack directory `{}`: {err}", root.display()),
        )
    })
}

/// The results a check may reuse: the previous check's (in memory, with plans), then the
/// disk cache's (schemas and findings only). Planned rules get the checks that belong with
/// a rule's result: Substrait encoding and the product settings `rulec run` would refuse.
struct Memo<'a> {
    memory: &'a HashMap<String, CompiledRule>,
    cache: Option<&'a CheckCache>,
}

impl RuleMemo for Memo<'_> {
    fn lookup(&self, key: &str) -> Option<CompiledRule> {
        self.memory
            .get(key)
            .cloned()
            .or_else(|| self.cache.and_then(|c| c.lookup(key)))
    }

    fn salt(&self, pack: &Pack, rule: &Rule) -> String {
        // The product-settings check reads the rule's `products:` entry and output contract
        // (already in the key), and places its findings in pack.yaml's text.
        let has_settings = pack.manifest.products.contains_key(&rule.name)
            || pack.output_contracts.contains_key(&rule.name);
        if has_settings {
            format!("pack.yaml {:?}", pack.manifest.text())
        } else {
            String::new()
        }
    }

    fn finish(&self, pack: &Pack, rule: &mut CompiledRule) {
        if let Some(source) = pack.rule(&rule.name) {
            rulec_substrait::check_encodable_rule(rule, &source.text);
        }
        if let Some(finding) = rulec_compile::check_product_settings(pack, rule) {
            rule.diagnostics.push(finding);
        }
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

#[cfg(test)]
mod tests;
