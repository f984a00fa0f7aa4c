//! The `ballista` feature: sessions on a Ballista cluster, and rulec's scheduler and executor.

use super::executor_write::{LogicalCodec, PhysicalCodec, QueryPlanner};
use super::*;
use ballista_core::extension::{SessionConfigExt as _, SessionStateExt as _};
use std::sync::Arc;

pub(crate) use super::executor_write::write_product as write_on_executors;

/// `state` with what rulec's sessions need on every member of a cluster: the codecs that
/// carry its write node, and (for a scheduler) the planner that plans it.
fn with_write_node(state: SessionState) -> SessionState {
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
    datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .with_query_planner(Arc::new(QueryPlanner))
        .build()
}

/// Executors an in-process cluster (`--scheduler standalone`) starts unless it says
/// how many (`standalone:N`).
const STANDALONE_EXECUTORS: usize = 2;

/// The executors of `standalone` or `standalone:N` (1 to 64), if `scheduler` is one.
fn standalone_executors(scheduler: &str) -> Option<Result<usize, Diagnostic>> {
    let rest = scheduler.strip_prefix("standalone")?;
    if rest.is_empty() {
        return Some(Ok(STANDALONE_EXECUTORS));
    }
    let n = rest.strip_prefix(':').and_then(|n| n.parse::<usize>().ok());
    Some(match n {
        Some(n @ 1..=64) => Ok(n),
        _ => Err(unavailable(format!(
            "`{scheduler}` is not `standalone` or `standalone:N` with N executors (1 to 64)"
        ))),
    })
}

pub(super) async fn upgrade_session(
    scheduler: &str,
    mut state: SessionState,
) -> Result<SessionState, Diagnostic> {
    // One partition per stage: with more, Ballista 55.0.0's stages return wrong rows for
    // a UNION ALL (a batch of one branch twice, or a branch missing, with the CPG
    // pack's unions) and never finish some multi-join plans (TPC-H q02 and q08 on two
    // executors); with one, every TPC-H and CPG product equals the local run's. Stages
    // still run on the executors, and products side by side (`--jobs`).
    state.config_mut().options_mut().execution.target_partitions = 1;
    // An in-process cluster takes its sessions and codecs from this state.
    let state = with_write_node(state);
    let url = match standalone_executors(scheduler) {
        Some(executors) => start_standalone(&state, executors?).await?,
        None => scheduler_url(scheduler)?,
    };
    state
        .upgrade_for_ballista(url)
        .map_err(|e| unavailable(format!("cannot use the Ballista scheduler: {e}")))
}

/// rulec's runtime (its object stores), shared by every session of a scheduler or
/// executor process.
fn runtime() -> Result<std::sync::Arc<datafusion::execution::runtime_env::RuntimeEnv>, Diagnostic> {
    crate::session::runtime_builder()
        .build_arc()
        .map_err(|e| unavailable(format!("cannot set up the runtime: {e}")))
}

pub(super) async fn serve_scheduler(options: &SchedulerOptions) -> Result<(), Diagnostic> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let runtime = runtime()?;
    let timeout = options.executor_timeout.as_secs().max(1);
    let config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        executor_timeout_seconds: timeout,
        expire_dead_executor_interval_seconds: (timeout / 3).clamp(1, 15),
        no_executors_grace_period_seconds: timeout,
        // Executors ask for tasks (as an in-process cluster's do); the scheduler pushing
        // them failed jobs that read earlier products ("task could not be prepared or
        // was rejected by executor").
        scheduling_policy: ballista_core::config::TaskSchedulingPolicy::PullStaged,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..SchedulerConfig::default()
    }
    .with_override_session_builder(Arc::new(move |config| {
        // Ballista's session (its planner rules and functions), on rulec's runtime, with
        // rulec's write node.
        let state = ballista_core::utils::default_session_builder(config)?;
        Ok(with_write_node(
            datafusion::execution::SessionStateBuilder::new_from_existing(state)
                .with_runtime_env(Arc::clone(&runtime))
                .build(),
        ))
    }));
    let failed = |e: &dyn std::fmt::Display| {
        unavailable(format!("the Ballista scheduler on {}: {e}", options.bind))
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| failed(&e))?;
    ballista_scheduler::scheduler_process::start_server(cluster, options.bind, Arc::new(config))
        .await
        .map_err(|e| failed(&e))
}

pub(super) async fn serve_executor(options: &ExecutorOptions) -> Result<(), Diagnostic> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let runtime = runtime()?;
    let url = scheduler_url(&options.scheduler)?;
    let (host, port) = url
        .trim_start_matches("http://")
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| unavailable(format!("`{}` is not a scheduler", options.scheduler)))?;
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: host,
        scheduler_port: port,
        work_dir: options
            .work_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned()),
        vcores: options.cores.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
        // Often enough for a scheduler with a short executor timeout.
        executor_heartbeat_interval_seconds: 2,
        task_scheduling_policy: ballista_core::config::TaskSchedulingPolicy::PullStaged,
        override_runtime_producer: Some(Arc::new(move |_| Ok(Arc::clone(&runtime)))),
        // Every function of rulec's sessions (Ballista's default registry lacks the
        // nested ones: `map`, `named_struct`, …).
        override_function_registry: Some(Arc::new(
            ballista_core::registry::BallistaFunctionRegistry::from(&crate::runtime_session()),
        )),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| unavailable(format!("the Ballista executor: {e}")))
}

/// `df://host[:port]` (port 50050 by default) as the scheduler's gRPC URL.
fn scheduler_url(scheduler: &str) -> Result<String, Diagnostic> {
    let bad = || {
        unavailable(format!(
            "`{scheduler}` is not a scheduler address (`df://HOST:PORT`, or `standalone`)"
        ))
    };
    let rest = scheduler.strip_prefix("df://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(bad());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
        None => (rest, 50050),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(format!("http://{host}:{port}"))
}

/// Starts a scheduler and `executors` executors in this process (on loopback, with
/// `state`'s configuration, functions and object stores) and returns the scheduler's URL.
pub(crate) async fn start_standalone(
    state: &SessionState,
    executors: usize,
) -> Result<String, Diagnostic> {
    let failed = |e: &dyn std::fmt::Display| {
        unavailable(format!("cannot start an in-process Ballista cluster: {e}"))
    };
    let address = ballista_scheduler::standalone::new_standalone_scheduler_from_state(state)
        .await
        .map_err(|e| failed(&e))?;
    let url = format!("http://localhost:{}", address.port());
    let mut client = None;
    for _ in 0..100 {
        match ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient::connect(
            url.clone(),
        )
        .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    let client = client.ok_or_else(|| failed(&"the scheduler does not answer"))?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let vcores = (cores / executors.max(1)).max(1);
    for _ in 0..executors {
        ballista_executor::new_standalone_executor_from_state(client.clone(), vcores, state)
            .await
            .map_err(|e| failed(&e))?;
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #[test]
    fn scheduler_addresses() {
        assert_eq!(
            super::scheduler_url("df://sched.internal:50051").ok(),
            Some("http://sched.internal:50051".to_owned())
        );
        assert_eq!(
            super::scheduler_url("df://localhost").ok(),
            Some("http://localhost:50050".to_owned())
        );
        for bad in [
            "localhost:50050",
            "df://",
            "df://h:port",
            "df://h:1/x",
            "http://h:1",
        ] {
            assert!(super::scheduler_url(bad).is_err(), "{bad}");
        }
    }
}
