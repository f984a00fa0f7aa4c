//! `rulec run`.

use crate::OutputFormat;
use anyhow::Context as _;
use rulec_driver::Project;
use rulec_exec::{Engine, InputIdentity, Location, ProductStatus, Profile, RunOptions};
use serde_json::json;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `rulec run`'s options beyond the pack.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Read input paths from pack.yaml relative to this directory instead of the pack.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where to write products: a directory, or s3://BUCKET/PREFIX (rulec built with the
    /// `s3` feature) (default: the pack's `output`, `out/` in the pack).
    #[arg(long, value_name = "DIR|URL")]
    pub out: Option<String>,
    /// Build only these products and the products they read.
    #[arg(long, value_name = "RULE")]
    pub only: Vec<String>,
    /// Rebuild every product, even those that could be reused.
    #[arg(long)]
    pub force: bool,
    /// Check reused products' files against their recorded SHA-256.
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Fail instead of waiting when another run holds the output directory.
    #[arg(long)]
    pub no_wait: bool,
    /// Write rows that break an output contract (a null in a non-null column, a
    /// duplicate key) to the product's error file instead of failing the product.
    #[arg(long)]
    pub tolerant: bool,
    /// Products built at once, at most (default: one per core, at most 4): independent
    /// products are built side by side in one engine, sharing its memory pool; results are
    /// the same whatever N.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Where products are computed: local (default; or pack.yaml `run.engine`) or ballista
    /// (a Ballista cluster; rulec built with the `ballista` feature).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// The Ballista scheduler: df://HOST:PORT, or `standalone[:N]` for a scheduler and N
    /// executors (default 2) in this process (default: pack.yaml `run.scheduler`).
    #[arg(long, value_name = "URL")]
    pub scheduler: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// The options a product's build id depends on besides the pack: shared by `rulec run` and
/// `rulec replay` (which must be given those the product was built with).
#[derive(clap::Args)]
pub struct BuildArgs {
    /// Identify input data by a hash of its content (default: sizes, times, footers).
    #[arg(long)]
    pub hash_inputs: bool,
    /// Runtime profile: fast (default), safe, memory-limited.
    #[arg(long)]
    pub profile: Option<String>,
    /// A DataFusion setting over the profile's, e.g.
    /// datafusion.execution.target_partitions=4 (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Memory for the engine (e.g. 512M, 2G); operators spill to disk beyond it.
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
}

impl BuildArgs {
    /// The runtime profile these options and pack.yaml's `run:` give; `Err` holds the exit
    /// code after the problem is reported.
    pub fn profile(&self, project: &Project, pack: &rulec_pack::Pack) -> Result<Profile, ExitCode> {
        let mut sets = Vec::new();
        for item in &self.set {
            let Some((key, value)) = item.split_once('=') else {
                eprintln!("rulec: --set takes key=value, got `{item}`");
                return Err(ExitCode::from(2));
            };
            sets.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        let memory_limit = match &self.memory_limit {
            Some(text) => match rulec_exec::profile::parse_size(text) {
                Some(bytes) => Some(bytes),
                None => {
                    eprintln!("rulec: --memory-limit takes a size like 512M or 2G, got `{text}`");
                    return Err(ExitCode::from(2));
                }
            },
            None => None,
        };
        Profile::resolve(
            self.profile
                .as_deref()
                .or(pack.manifest.run.profile.as_deref()),
            &pack.manifest.run.settings,
            &sets,
            memory_limit,
        )
        .map_err(|d| {
            eprint!("{}", project.render(&[d]));
            ExitCode::from(2)
        })
    }

    pub fn input_identity(&self) -> InputIdentity {
        if self.hash_inputs {
            InputIdentity::Content
        } else {
            InputIdentity::Metadata
        }
    }
}

/// The engine named by the flags, else by pack.yaml's `run:` (a flag wins: `--engine
/// local` runs locally whatever scheduler pack.yaml names).
fn engine(args: &RunArgs, run: &rulec_pack::RunSection) -> Result<Engine, String> {
    let name = args
        .engine
        .as_deref()
        .or(run.engine.as_deref())
        .unwrap_or("local");
    match name {
        "local" if args.scheduler.is_some() => {
            Err("a scheduler is given but the engine is local: add --engine ballista".to_owned())
        }
        "local" => Ok(Engine::Local),
        "ballista" => match args.scheduler.as_deref().or(run.scheduler.as_deref()) {
            Some(scheduler) => Ok(Engine::Ballista {
                scheduler: scheduler.to_owned(),
            }),
            None => Err(
                "--engine ballista needs --scheduler df://HOST:PORT (or `standalone[:N]`)"
                    .to_owned(),
            ),
        },
        other => Err(format!("unknown engine `{other}` (local or ballista)")),
    }
}

pub fn run(root: &Path, args: RunArgs) -> anyhow::Result<ExitCode> {
    let project = Project::load(root)?;
    let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) else {
        eprint!("{}", project.render(&project.all_diagnostics()));
        return Ok(ExitCode::from(1));
    };
    for name in &args.only {
        if pack.rule(name).is_none() {
            eprintln!("{}", rulec_driver::no_such_rule(pack, name));
            return Ok(ExitCode::from(2));
        }
    }
    let profile = match args.build.profile(&project, pack) {
        Ok(profile) => profile,
        Err(code) => return Ok(code),
    };
    let engine = match engine(&args, &pack.manifest.run) {
        Ok(engine) => engine,
        Err(message) => {
            eprintln!("rulec: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let errors: Vec<_> = project
        .all_diagnostics()
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    if !errors.is_empty() {
        eprint!("{}", project.render(&errors));
        eprintln!("rulec: the pack has errors; building what compiles");
    }
    // `--out` is relative to the working directory, pack.yaml's `output` to the pack.
    let out_dir = match &args.out {
        Some(out) => Location::parse(out),
        None => Location::resolve(root, &pack.manifest.output),
    };
    let out_dir = match out_dir {
        Ok(out) => out,
        Err(message) => {
            eprintln!("rulec: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Physical planning and expression evaluation recurse over a rule's depth, as
        // planning does (rules are limited to `rulec_syntax::MAX_EXPRESSION_DEPTH`).
        .thread_stack_size(rulec_compile::PLANNING_STACK)
        .build()
        .context("cannot start the async runtime")?;
    let lock = runtime.block_on(rulec_exec::lock_location(&out_dir, !args.no_wait, || {
        eprintln!("rulec: waiting for another run to release `{out_dir}`");
    }));
    let lock = match lock {
        Ok(lock) => lock,
        Err(d) => {
            eprint!("{}", project.render(&[d]));
            return Ok(ExitCode::from(2));
        }
    };
    let mut options = RunOptions::new(root.to_path_buf(), out_dir.clone(), profile);
    options.data_dir = args.data.clone();
    options.only = args.only.clone();
    options.force = args.force;
    options.verify = args.verify;
    options.input_identity = args.build.input_identity();
    // Progress only where someone watches it: on a terminal, and not for a JSON report.
    let progress =
        (args.format != OutputFormat::Json && std::io::stderr().is_terminal()).then(Progress::new);
    options.progress = progress.as_ref().map(Progress::sink);
    options.tolerant = args.tolerant;
    if let Some(jobs) = args.jobs {
        options.jobs = usize::from(jobs);
    }
    options.engine = engine;
    let lineage = rulec_lineage::PackLineage::build(pack, compiled);
    let report = runtime.block_on(async {
        let report = rulec_exec::run(pack, compiled, &lineage, &options).await;
        lock.release().await;
        report
    });
    drop(progress);
    if !report.diagnostics.is_empty() {
        eprint!("{}", project.render(&report.diagnostics));
    }
    let mut failures = Vec::new();
    for product in &report.products {
        if let ProductStatus::Failed(d) | ProductStatus::Skipped(d) = &product.status {
            failures.push(d.clone());
        }
    }
    if args.format == OutputFormat::Json {
        println!("{}", json_report(&report, &out_dir));
    } else {
        print_table(&report);
        println!("products in {out_dir}");
    }
    if !failures.is_empty() {
        eprint!("{}", project.render(&failures));
    }
    Ok(if report.succeeded() && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Progress on a terminal: a line per product being built, with its rows, the bytes of
/// its files and its time, removed when it is done (the report follows).
struct Progress {
    bars: indicatif::MultiProgress,
    building: std::sync::Arc<
        std::sync::Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
    >,
}

impl Progress {
    fn new() -> Self {
        Progress {
            bars: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr_with_hz(10),
            ),
            building: std::sync::Arc::default(),
        }
    }

    fn sink(&self) -> rulec_exec::ProgressSink {
        use rulec_exec::ProgressEvent;
        let bars = self.bars.clone();
        let building = std::sync::Arc::clone(&self.building);
        let style =
            indicatif::ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        rulec_exec::ProgressSink(std::sync::Arc::new(move |event| {
            let mut building = building.lock().unwrap_or_else(|e| e.into_inner());
            match event {
                ProgressEvent::Building { product } => {
                    let bar = bars.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(product.to_owned());
                    bar.set_message("starting");
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    building.insert(product.to_owned(), bar);
                }
                ProgressEvent::Rows {
                    product,
                    rows,
                    bytes,
                } => {
                    if let Some(bar) = building.get(product) {
                        bar.set_message(format!("{rows} rows, {}", indicatif::HumanBytes(bytes)));
                    }
                }
                ProgressEvent::Done { product } => {
                    if let Some(bar) = building.remove(product) {
                        bar.finish_and_clear();
                        bars.remove(&bar);
                    }
                }
            }
        }))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let _ = self.bars.clear();
    }
}

fn print_table(report: &rulec_exec::RunReport) {
    let width = report
        .products
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<width$}  {:>10}  {:>5}  {:>10}  {:>9}  status",
        "product", "rows", "files", "bytes", "time"
    );
    for product in &report.products {
        let name = &product.name;
        match &product.status {
            ProductStatus::Built {
                product: p,
                elapsed,
                reasons,
                appended,
                ..
            } => println!(
                "{name:<width$}  {:>10}  {:>5}  {:>10}  {:>8.3}s  {} ({}){}",
                p.rows,
                p.files,
                p.bytes,
                elapsed.as_secs_f64(),
                if *appended { "appended" } else { "rebuilt" },
                reasons.join(", "),
                refused_note(p.refused)
            ),
            ProductStatus::Reused(p) => println!(
                "{name:<width$}  {:>10}  {:>5}  {:>10}  {:>9}  reused{}",
                p.rows,
                p.files,
                p.bytes,
                "-",
                refused_note(p.refused)
            ),
            ProductStatus::Failed(_) => println!(
                "{name:<width$}  {:>10}  {:>5}  {:>10}  {:>9}  failed",
                "-", "-", "-", "-"
            ),
            ProductStatus::Skipped(_) => println!(
                "{name:<width$}  {:>10}  {:>5}  {:>10}  {:>9}  skipped",
                "-", "-", "-", "-"
            ),
            ProductStatus::Ephemeral => println!(
                "{name:<width$}  {:>10}  {:>5}  {:>10}  {:>9}  ephemeral (inlined into its readers)",
                "-", "-", "-", "-"
            ),
        }
    }
}

fn refused_note(refused: u64) -> String {
    if refused == 0 {
        String::new()
    } else {
        format!("; {refused} rows refused by the output contract (see its errors file)")
    }
}

/// A published product's figures in the JSON report.
fn published(v: &mut serde_json::Value, status: &str, p: &rulec_exec::Published) {
    v["status"] = json!(status);
    v["rows"] = json!(p.rows);
    v["files"] = json!(p.files);
    v["bytes"] = json!(p.bytes);
    v["refused_rows"] = json!(p.refused);
}

fn json_report(report: &rulec_exec::RunReport, out_dir: &Location) -> String {
    let products: Vec<serde_json::Value> = report
        .products
        .iter()
        .map(|p| {
            let mut v = json!({
                "name": p.name,
                "path": p.path.to_string(),
                "build_id": p.build_id,
            });
            match &p.status {
                ProductStatus::Built {
                    product,
                    elapsed,
                    reasons,
                    appended,
                    metrics,
                } => {
                    let status = if *appended { "appended" } else { "rebuilt" };
                    published(&mut v, status, product);
                    v["reasons"] = json!(reasons);
                    v["seconds"] = json!(elapsed.as_secs_f64());
                    v["metrics"] = json!(metrics);
                }
                ProductStatus::Reused(product) => published(&mut v, "reused", product),
                ProductStatus::Failed(d) => {
                    v["status"] = json!("failed");
                    v["error"] = json!(format!("{}: {}", d.code, d.message));
                }
                ProductStatus::Skipped(d) => {
                    v["status"] = json!("skipped");
                    v["error"] = json!(format!("{}: {}", d.code, d.message));
                }
                ProductStatus::Ephemeral => v["status"] = json!("ephemeral"),
            }
            v
        })
        .collect();
    let diagnostics: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    serde_json::to_string_pretty(&json!({
        "out": out_dir.to_string(),
        "succeeded": report.succeeded(),
        "products": products,
        "diagnostics": diagnostics,
        "settings": report.settings,
    }))
    .unwrap_or_default()
}
