//! `rulec cluster scheduler` and `rulec cluster executor`: a Ballista 55 scheduler and
//! executors from the rulec binary (the `ballista` feature), with rulec's functions and
//! object stores (local files and `s3://` buckets), for `rulec run --engine ballista`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Serve a Ballista scheduler (`rulec run --engine ballista --scheduler df://HOST:PORT`
    /// sends products to it).
    Scheduler {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: std::net::SocketAddr,
        /// Seconds without a heartbeat after which an executor is lost and its tasks are
        /// run elsewhere.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        executor_timeout: u64,
    },
    /// Serve a Ballista executor: it registers with the scheduler and runs its tasks.
    Executor {
        /// The scheduler, df://HOST:PORT.
        #[arg(long, value_name = "URL")]
        scheduler: String,
        /// The host its services listen on.
        #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
        bind_host: String,
        /// The port of its Flight service (the results of its tasks).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The port of its gRPC service.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// The host the scheduler and rulec reach it by (default: --bind-host).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// Where it keeps intermediate (shuffle) data (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Tasks it runs at once (default: one per core).
        #[arg(long, value_name = "N")]
        cores: Option<usize>,
    },
}

pub fn run(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(rulec_compile::PLANNING_STACK)
        .build()?;
    let served = runtime.block_on(async {
        match command {
            ClusterCommand::Scheduler {
                bind,
                executor_timeout,
            } => {
                eprintln!("rulec: Ballista scheduler on {bind}");
                rulec_exec::cluster::serve_scheduler(&rulec_exec::cluster::SchedulerOptions {
                    bind,
                    executor_timeout: std::time::Duration::from_secs(executor_timeout),
                })
                .await
            }
            ClusterCommand::Executor {
                scheduler,
                bind_host,
                port,
                grpc_port,
                external_host,
                work_dir,
                cores,
            } => {
                eprintln!("rulec: Ballista executor on {bind_host}:{port}, scheduler {scheduler}");
                rulec_exec::cluster::serve_executor(&rulec_exec::cluster::ExecutorOptions {
                    scheduler,
                    bind_host,
                    port,
                    grpc_port,
                    external_host,
                    work_dir,
                    cores,
                })
                .await
            }
        }
    });
    match served {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(d) => {
            eprint!("{}", rulec_diagnostics::render_human(&d, None, false));
            Ok(ExitCode::from(2))
        }
    }
}
