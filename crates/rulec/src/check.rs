//! `rulec check`.

use crate::CheckFormat;
use rulec_diagnostics::{codes, has_errors};
use rulec_driver::Project;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub fn explain(code: &str) -> anyhow::Result<ExitCode> {
    match codes::lookup(code) {
        Some(c) => {
            println!("{} {}: {}\n\n{}", c.code, c.slug, c.summary, c.explanation);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("rulec: unknown diagnostic code `{code}`");
            Ok(ExitCode::from(2))
        }
    }
}

/// The pack directories `paths` name: a directory with pack.yaml is a pack; a file (or a
/// directory without pack.yaml) belongs to the nearest enclosing pack. Paths inside no pack
/// are skipped (a pre-commit hook passes every changed file). Sorted, deduplicated.
fn packs_of(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    // Keyed by the absolute pack path, so one pack named twice is checked once.
    let mut packs = std::collections::BTreeMap::new();
    for path in paths {
        if !path.exists() {
            anyhow::bail!("`{}` does not exist", path.display());
        }
        let absolute = std::path::absolute(path)?;
        let start = if absolute.is_dir() {
            Some(absolute.as_path())
        } else {
            absolute.parent()
        };
        if let Some(pack) =
            start.and_then(|dir| dir.ancestors().find(|d| d.join("pack.yaml").is_file()))
        {
            // Show the pack as the user named it when they named the pack itself.
            let shown = if pack == absolute {
                path.clone()
            } else {
                relative_to_cwd(pack)
            };
            packs.entry(pack.to_path_buf()).or_insert(shown);
        }
    }
    Ok(packs.into_values().collect())
}

fn relative_to_cwd(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

pub fn run(
    paths: &[PathBuf],
    format: CheckFormat,
    timings: bool,
    cache: bool,
) -> anyhow::Result<ExitCode> {
    let packs = packs_of(paths)?;
    if packs.is_empty() {
        if paths.iter().all(|p| p.is_dir()) {
            let named: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
            anyhow::bail!("no pack.yaml in {} or its parents", named.join(", "));
        }
        return Ok(ExitCode::SUCCESS); // Only files outside any pack: nothing to check.
    }
    let mut failed = false;
    let (mut rules, mut errors, mut warnings) = (0, 0, 0);
    let mut stdout = std::io::stdout().lock();
    let mut sarif_diagnostics = Vec::new();
    for root in &packs {
        let started = std::time::Instant::now();
        let project = if cache {
            Project::load_cached(root, &root.join(rulec_driver::CACHE_DIR))?
        } else {
            Project::load(root)?
        };
        let timings = timings
            .then(|| Timings::of(&project, started.elapsed()))
            .flatten();
        if let (Some(timings), false) = (&timings, format == CheckFormat::Json) {
            timings.print(&project);
        }
        let diagnostics = project.all_diagnostics();
        failed |= has_errors(&diagnostics);
        rules += project.compiled.as_ref().map_or(0, |c| c.rules.len());
        errors += diagnostics.iter().filter(|d| d.is_error()).count();
        warnings += diagnostics.iter().filter(|d| !d.is_error()).count();
        match format {
            CheckFormat::Human => write!(
                stdout,
                "{}",
                project.render_styled(
                    &diagnostics,
                    std::io::IsTerminal::is_terminal(&std::io::stdout())
                )
            )?,
            CheckFormat::Sarif => sarif_diagnostics.extend(diagnostics.iter().map(|d| {
                let mut shown = d.clone();
                shown.file = d.file.as_deref().map(|f| project.display_path(f));
                shown
            })),
            CheckFormat::Json => {
                let mut report = serde_json::to_value(project.report(&diagnostics))?;
                if let Some(timings) = &timings {
                    report["timings"] = timings.json();
                }
                if packs.len() == 1 {
                    writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
                } else {
                    // Several packs: one report per line.
                    writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
                }
            }
        }
    }
    if format == CheckFormat::Sarif {
        let log = rulec_diagnostics::to_sarif(&sarif_diagnostics, env!("CARGO_PKG_VERSION"));
        writeln!(stdout, "{}", serde_json::to_string_pretty(&log)?)?;
    }
    if format == CheckFormat::Human {
        let in_packs = if packs.len() == 1 {
            String::new()
        } else {
            format!(" in {} packs", packs.len())
        };
        if errors + warnings == 0 {
            eprintln!(
                "rulec: {}{in_packs} checked, no problems",
                plural(rules, "rule")
            );
        } else {
            eprintln!(
                "rulec: {}{in_packs} checked: {}, {}",
                plural(rules, "rule"),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Where a pack's check time went (`--timings`).
struct Timings<'a> {
    /// Loading and checking the pack, all of it.
    total: Duration,
    /// Every rule's planning time, slowest first.
    rules: Vec<(&'a str, Duration)>,
    /// Planning by phase, summed over the rules: `sql-to-rel`, `analyzer`, `optimizer`,
    /// `fingerprint`.
    phases: [(&'static str, Duration); 4],
    /// Every pipeline pass (`analyzer/...`, `optimizer/...`) summed over the rules,
    /// costliest first.
    passes: Vec<(&'a str, Duration)>,
}

impl<'a> Timings<'a> {
    fn of(project: &'a Project, total: Duration) -> Option<Self> {
        let compiled = project.compiled.as_ref()?;
        let mut rules: Vec<(&str, Duration)> = compiled
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.compile_time))
            .collect();
        rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut sql_to_rel = Duration::ZERO;
        let mut fingerprint = Duration::ZERO;
        let mut passes: std::collections::BTreeMap<&str, Duration> = Default::default();
        for rule in &compiled.rules {
            sql_to_rel += rule.phase_times.sql_to_rel;
            fingerprint += rule.phase_times.fingerprint;
            for (pass, time) in &rule.phase_times.passes {
                *passes.entry(pass.as_str()).or_default() += *time;
            }
        }
        let total_of = |prefix: &str| -> Duration {
            passes
                .iter()
                .filter(|(p, _)| p.starts_with(prefix))
                .map(|(_, t)| *t)
                .sum()
        };
        let phases = [
            ("sql-to-rel", sql_to_rel),
            ("analyzer", total_of("analyzer/")),
            ("optimizer", total_of("optimizer/")),
            ("fingerprint", fingerprint),
        ];
        let mut passes: Vec<(&str, Duration)> = passes.into_iter().collect();
        passes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Some(Timings {
            total,
            rules,
            phases,
            passes,
        })
    }

    fn planning(&self) -> Duration {
        self.rules.iter().map(|(_, t)| *t).sum()
    }

    /// The totals, the five slowest rules, the check cache, the phases and the five
    /// costliest passes, on stderr.
    fn print(&self, project: &Project) {
        let count = u32::try_from(self.rules.len().max(1)).unwrap_or(u32::MAX);
        eprintln!(
            "rulec: {}: load+check {:.1} ms; planning {:.1} ms for {} rules ({:.2} ms per rule)",
            project.root.display(),
            ms(self.total),
            ms(self.planning()),
            self.rules.len(),
            ms(self.planning() / count)
        );
        for (name, time) in self.rules.iter().take(5) {
            eprintln!("  {:>8.2} ms  {name}", ms(*time));
        }
        if let Some(cache) = &project.stats.cache {
            let found = match cache {
                rulec_driver::CacheStatus::Missing => "none yet".to_owned(),
                rulec_driver::CacheStatus::Loaded(n) => plural(*n, "result"),
                rulec_driver::CacheStatus::Ignored(why) => format!("ignored ({why})"),
            };
            eprintln!(
                "rulec: check cache: {found}; {} planned, {} reused",
                plural(project.stats.planned.len(), "rule"),
                project.stats.reused.len()
            );
        }
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(phase, time)| format!("{phase} {:.1} ms", ms(*time)))
            .collect();
        eprintln!("rulec: phases: {}", phases.join(", "));
        for (pass, time) in self.passes.iter().take(5) {
            eprintln!("  {:>8.2} ms  {pass}", ms(*time));
        }
    }

    /// All of it, in ms, for `--format json`: `{"load_check_ms", "planning_ms", "rules":
    /// {rule: ms}, "phases": {phase: ms}, "passes": {pass: ms}}`.
    fn json(&self) -> serde_json::Value {
        let map = |items: &mut dyn Iterator<Item = (&str, Duration)>| -> serde_json::Value {
            items
                .map(|(name, time)| (name.to_owned(), serde_json::json!(ms(time))))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        serde_json::json!({
            "load_check_ms": ms(self.total),
            "planning_ms": ms(self.planning()),
            "rules": map(&mut self.rules.iter().copied()),
            "phases": map(&mut self.phases.iter().copied()),
            "passes": map(&mut self.passes.iter().copied()),
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
