//! Where products are computed: in this process, or on a Ballista cluster (the `ballista`
//! feature). On a cluster, each product's plan (the logical plan rulec consumed from the
//! product's Substrait plan, inputs as listing-table scans by path) goes to the scheduler as
//! DataFusion's protobuf plan; executors read the inputs and compute it, and its rows stream
//! back to rulec, which checks them against the contract, writes the files and publishes the
//! version exactly as for a local run (manifest, build id, reuse, staging and swap). So the
//! executors must see the inputs at the same paths (shared storage), and rulec's writer is
//! the one place files are written.

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
        Engine::Ballista { scheduler } => ballista::session(scheduler, state).await,
    }
}

fn unavailable(message: String) -> Diagnostic {
    Diagnostic::error(codes::ENGINE_UNAVAILABLE, message)
}

#[cfg(not(feature = "ballista"))]
mod ballista {
    use super::*;

    pub(super) async fn session(
        _scheduler: &str,
        _state: SessionState,
    ) -> Result<SessionState, Diagnostic> {
        Err(
            unavailable("this rulec was built without the `ballista` feature".to_owned())
                .with_help("build it with `cargo build --release -p rulec --features ballista`"),
        )
    }
}

#[cfg(feature = "ballista")]
mod ballista {
    use super::*;
    use ballista_core::extension::SessionStateExt as _;

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

    pub(super) async fn session(
        scheduler: &str,
        mut state: SessionState,
    ) -> Result<SessionState, Diagnostic> {
        // One partition per stage: with more, Ballista 55.0.0's stages return wrong rows for
        // a UNION ALL (a batch of one branch twice, or a branch missing, with the CPG
        // pack's unions) and never finish some multi-join plans (TPC-H q02 and q08 on two
        // executors); with one, every TPC-H and CPG product equals the local run's. Stages
        // still run on the executors, and products side by side (`--jobs`).
        state.config_mut().options_mut().execution.target_partitions = 1;
        let url = match standalone_executors(scheduler) {
            Some(executors) => start_standalone(&state, executors?).await?,
            None => scheduler_url(scheduler)?,
        };
        state
            .upgrade_for_ballista(url)
            .map_err(|e| unavailable(format!("cannot use the Ballista scheduler: {e}")))
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
}
