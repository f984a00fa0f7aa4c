//! The runtime session: DataFusion with its default functions and the options rulec plans
//! with, so that run-time types match compile-time types.

use datafusion::config::ConfigOptions;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use std::sync::Arc;

/// The session configuration for `options` (rulec's planning options, maybe overridden).
pub(crate) fn config(options: ConfigOptions) -> SessionConfig {
    // Information schema and URL tables stay off: rules read declared tables only.
    SessionConfig::from(options).with_information_schema(false)
}

/// A runtime whose object stores are rulec's ([`crate::store::Stores`]: local files and
/// S3 buckets, listed as data only).
pub(crate) fn runtime_builder() -> RuntimeEnvBuilder {
    RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(crate::store::Stores::new()))
}

/// A session with `config`, `runtime` and DataFusion's default functions, no tables.
pub(crate) fn engine_state(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionState {
    SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build()
}

/// A session configured like the compiler (the `fast` profile): the caller registers
/// inputs and products.
pub fn runtime_session() -> SessionState {
    engine_state(
        config(rulec_compile::planning_options()),
        Arc::new(runtime_builder().build().unwrap_or_default()),
    )
}
