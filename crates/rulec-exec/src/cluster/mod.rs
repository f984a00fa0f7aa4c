//! Where products are computed: in this process, or on a Ballista cluster (the `ballista`
//! feature). On a cluster, each product's plan (the logical plan rulec consumed from the
//! product's Substrait plan, inputs as listing-table scans by path) goes to the scheduler as
//! DataFusion's protobuf plan, under a write node: executors read the inputs, compute the
//! product and write its files with rulec's writer (contract checks, sorted files, refused
//! rows) into the version's staging directory or below its `s3://` prefix
//! ([`executor_write`]); rulec writes the manifest and publishes the version exactly as for
//! a local run (build id, reuse, staging and swap, manifest last). So the executors must see
//! the inputs, and a local output directory, at the same paths (shared storage).

use crate::Engine;
use datafusion::execution::SessionState;
use rulec_diagnostics::{Diagnostic, codes};

/// `state`, set up to compute products on `engine`.
pub(crate) async fn session_for(
    engine: &Engine,
    state: SessionState,
) -> Result<SessionState, Diagnostic> {
    match engine {
        Engine::Local => Ok(state),
        Engine::Ballista { scheduler } => ballista::upgrade_session(scheduler, state).await,
    }
}

/// Computes a product's `plans` (one after the other) on the cluster `state` runs on, and
/// has the executor that computes it write its files ([`executor_write`]).
pub(crate) use ballista::write_on_executors;

fn unavailable(message: String) -> Diagnostic {
    Diagnostic::error(codes::ENGINE_UNAVAILABLE, message)
}

/// A Ballista scheduler to serve (`rulec cluster scheduler`).
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The address its gRPC service listens on.
    pub bind: std::net::SocketAddr,
    /// An executor not heard from for this long is lost, and its tasks run elsewhere.
    pub executor_timeout: std::time::Duration,
}

/// A Ballista executor to serve (`rulec cluster executor`).
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `df://HOST:PORT`.
    pub scheduler: String,
    /// The host its services listen on, and the ports of its Flight (results) and gRPC
    /// services.
    pub bind_host: String,
    pub port: u16,
    pub grpc_port: u16,
    /// The host the scheduler and clients reach it by (default: `bind_host`).
    pub external_host: Option<String>,
    /// Where it keeps shuffle data (default: a temporary directory).
    pub work_dir: Option<std::path::PathBuf>,
    /// Tasks it runs at once (default: one per core).
    pub cores: Option<usize>,
}

/// Serves a Ballista scheduler until the process ends: sessions are rulec's (its functions,
/// and its object stores: local files, `s3://` buckets).
pub async fn serve_scheduler(options: &SchedulerOptions) -> Result<(), Diagnostic> {
    ballista::serve_scheduler(options).await
}

/// Serves a Ballista executor until the process ends: it registers with the scheduler and
/// runs tasks with rulec's runtime (its object stores: local files, `s3://` buckets).
pub async fn serve_executor(options: &ExecutorOptions) -> Result<(), Diagnostic> {
    ballista::serve_executor(options).await
}

#[cfg(not(feature = "ballista"))]
mod ballista {
    use super::*;
    use crate::Location;
    use crate::write::{Target, Written};
    use datafusion::arrow::datatypes::SchemaRef;
    use datafusion::logical_expr::LogicalPlan;

    fn without() -> Diagnostic {
        unavailable("this rulec was built without the `ballista` feature".to_owned())
            .with_help("build it with `cargo build --release -p rulec --features ballista`")
    }

    pub(crate) async fn write_on_executors(
        _: &SessionState,
        _: Vec<LogicalPlan>,
        _: SchemaRef,
        _: &Target<'_>,
        _: &Location,
        _: &str,
    ) -> Result<Written, Diagnostic> {
        Err(without())
    }

    pub(super) async fn upgrade_session(
        _scheduler: &str,
        _state: SessionState,
    ) -> Result<SessionState, Diagnostic> {
        Err(without())
    }

    pub(super) async fn serve_scheduler(_: &SchedulerOptions) -> Result<(), Diagnostic> {
        Err(without())
    }

    pub(super) async fn serve_executor(_: &ExecutorOptions) -> Result<(), Diagnostic> {
        Err(without())
    }
}

#[cfg(feature = "ballista")]
mod ballista;
#[cfg(feature = "ballista")]
mod executor_write;
