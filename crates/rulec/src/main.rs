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
mod plan;
mod project;
mod run;

use clap::{Parser, Subcommand, ValueEnum};
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
        /// Also print how long each rule took to plan (to stderr).
        #[arg(long)]
        timings: bool,
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
        /// With --format binary: the file to write the Substrait protobuf to.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Materialize products: run each rule's Substrait plan and write Parquet.
    Run {
        /// The pack directory.
        pack: PathBuf,
        /// Read input paths from pack.yaml relative to this directory instead of the pack.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write products (default: the pack's `output`, `out/` in the pack).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Build only these products and the products they read.
        #[arg(long, value_name = "RULE")]
        only: Vec<String>,
    },
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
            explain,
        } => match explain {
            Some(code) => check::explain(&code),
            None => check::run(&paths, format, timings),
        },
        Command::Plan {
            pack,
            rule,
            format,
            show,
            output,
        } => plan::run(&pack, rule.as_deref(), format, show, output.as_deref()),
        Command::Run {
            pack,
            data,
            out,
            only,
        } => run::run(&pack, data, out, only),
    }
}
