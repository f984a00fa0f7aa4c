//! The `rulec` command: check, plan and run rule packs.
//!
//! This crate alone knows clap, terminals and exit codes: 0 when all is well, 1 when there
//! are findings (or a product failed), 2 for usage errors and internal failures.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command-line interface is the one place rulec prints"
)]

mod check;
mod cluster;
mod diff;
mod git;
mod lineage;
mod plan;
mod replay;
mod run;

use clap::{Parser, Subcommand, ValueEnum};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "rulec", version, about = "A SQL-first compiler for rule packs", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every rule of a pack: parse, qualify, type-check, plan, encode.
    Check {
        /// Pack directories (holding pack.yaml), or files inside packs (as a pre-commit
        /// hook passes them): each named pack is checked once, whole.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Output format: human, json (DESIGN §6), sarif (SARIF 2.1.0 for code scanning).
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        /// Also say where the time went: each rule's planning, the phases and passes (to
        /// stderr; with `--format json`, as the report's `timings`).
        #[arg(long)]
        timings: bool,
        /// Plan every rule, without reading or writing the pack's check cache
        /// (`.rulec-cache/` in the pack, which keeps unchanged rules' results between runs).
        #[arg(long)]
        no_cache: bool,
        /// Print the explanation of a diagnostic code (e.g. Q001) and exit.
        #[arg(long, value_name = "CODE")]
        explain: Option<String>,
    },
    /// Show what rules compile to: canonical SQL, the optimized plan, the Substrait plan.
    Plan {
        /// The pack directory.
        pack: PathBuf,
        /// The rule to show (default: every rule).
        rule: Option<String>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// What to show.
        #[arg(long, value_enum, default_value_t = Show::All)]
        show: Show,
        /// With --format binary: the file to write the rule's Substrait protobuf to, or, for
        /// every rule, a directory to write each `<rule>.substrait` to.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Print the canonical SQL for this engine: datafusion (default), duckdb, postgres,
        /// spark or trino (`dialects/*.yaml`).
        #[arg(long, value_name = "NAME")]
        dialect: Option<String>,
    },
    /// Materialize products: run each rule's Substrait plan and write Parquet, reusing
    /// every product whose build id is unchanged.
    Run {
        /// The pack directory.
        pack: PathBuf,
        #[command(flatten)]
        args: run::RunArgs,
    },
    /// Re-run a product's stored Substrait plan against what it was built from, and check
    /// that it gives the product's rows (and, for a sorted product, its files byte for byte).
    Replay {
        #[command(flatten)]
        args: replay::ReplayArgs,
    },
    /// Column lineage: where a column comes from, or (--downstream) what reads it.
    Lineage {
        /// The pack directory.
        pack: PathBuf,
        /// A rule or input table, optionally with a column and nested fields
        /// (`libcst_files.nodes[*].span`); default: every rule.
        name: Option<String>,
        /// Show what reads NAME (impact) instead of where it comes from.
        #[arg(long)]
        downstream: bool,
        #[arg(long, value_enum, default_value_t = LineageFormat::Text)]
        format: LineageFormat,
    },
    /// What changed between two versions of a pack, and what it affects downstream.
    /// Exit code 0: nothing changed in meaning; 1: something did; 2: errors.
    #[command(
        after_help = "Examples:\n  rulec diff old/rules/cpg rules/cpg\n  rulec diff --git main..HEAD rules/cpg\n  rulec diff --git main rules/cpg      (main against the working tree)"
    )]
    Diff {
        /// Two pack directories (OLD NEW); with --git, the one pack directory (default `.`).
        #[arg(num_args = 0..=2)]
        packs: Vec<PathBuf>,
        /// Compare two revisions of one pack, read from git objects: `A..B`, `A...B`
        /// (from the merge base), or `A` (against the working tree).
        #[arg(long, value_name = "RANGE")]
        git: Option<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Serve a Ballista scheduler or executor for `rulec run --engine ballista` (rulec built
    /// with the `ballista` feature).
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// Run the language server (LSP over stdin and stdout) for editors: diagnostics as you
    /// type, hover, go to definition, references, completion and quick fixes.
    Lsp {
        /// Talk over stdin and stdout (the only transport; accepted because editors pass it).
        #[arg(long)]
        stdio: bool,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
/// Human or JSON output (`diff`, `run`).
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LineageFormat {
    Text,
    Json,
    Dot,
    Mermaid,
}

impl From<LineageFormat> for rulec_lineage::Format {
    fn from(format: LineageFormat) -> Self {
        match format {
            LineageFormat::Text => rulec_lineage::Format::Text,
            LineageFormat::Json => rulec_lineage::Format::Json,
            LineageFormat::Dot => rulec_lineage::Format::Dot,
            LineageFormat::Mermaid => rulec_lineage::Format::Mermaid,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CheckFormat {
    Human,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum PlanFormat {
    Text,
    Json,
    Binary,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Show {
    Sql,
    Logical,
    Substrait,
    /// The canonical pipeline pass by pass: which passes changed the plan, and how.
    Passes,
    All,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Planning, the unparser and the Substrait producer recurse over a query's depth.
    let result = rulec_compile::with_planning_stack(|| execute(cli.command));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rulec: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check {
            paths,
            format,
            timings,
            no_cache,
            explain,
        } => match explain {
            Some(code) => check::explain(&code),
            None => check::run(&paths, format, timings, !no_cache),
        },
        Command::Plan {
            pack,
            rule,
            format,
            show,
            output,
            dialect,
        } => plan::run(
            &pack,
            rule.as_deref(),
            format,
            show,
            output.as_deref(),
            dialect.as_deref(),
        ),
        Command::Run { pack, args } => run::run(&pack, args),
        Command::Replay { args } => replay::run(args),
        Command::Lineage {
            pack,
            name,
            downstream,
            format,
        } => lineage::run(&pack, name, downstream, format.into()),
        Command::Cluster { command } => cluster::run(command),
        Command::Lsp { stdio: _ } => match rulec_lsp::run_stdio() {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(err) => anyhow::bail!("lsp: {err}"),
        },
        Command::Diff { packs, git, format } => {
            let sides = match (git, packs.as_slice()) {
                (Some(range), []) => diff::Sides::Git {
                    range,
                    pack: PathBuf::from("."),
                },
                (Some(range), [pack]) => diff::Sides::Git {
                    range,
                    pack: pack.clone(),
                },
                (None, [old, new]) => diff::Sides::Dirs(old.clone(), new.clone()),
                (Some(_), _) => anyhow::bail!("with --git, name one pack directory"),
                (None, _) => {
                    anyhow::bail!("name two pack directories (OLD NEW), or use --git RANGE PACK")
                }
            };
            diff::run(sides, format == OutputFormat::Json)
        }
    }
}
