//! The runtime session: DataFusion with its default functions and the options rulec plans
//! with, so that run-time types match compile-time types.

use datafusion::config::ConfigOptions;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use std::sync::Arc;

/// The session configuration for `options` (rulec's planning options, maybe overridden).
pub(crate) fn config(options: ConfigOptions) -> SessionConfig {
    // Information schema and URL tables stay off: rules read declared tables only.
    SessionConfig::from(options).with_information_schema(false)
}

/// A session with `config`, `runtime` and DataFusion's default functions, no tables. Local
/// files are listed as data only ([`crate::store::DataOnly`]).
pub(crate) fn session(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionState {
    let local = datafusion::execution::object_store::ObjectStoreUrl::local_filesystem();
    runtime.register_object_store(
        local.as_ref(),
        Arc::new(crate::store::DataOnly(Arc::new(
            datafusion::object_store::local::LocalFileSystem::new(),
        ))),
    );
    SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build()
}

/// A session configured like the compiler (the `fast` profile): the caller registers
/// inputs and products.
pub fn runtime_session() -> SessionState {
    session(
        config(rulec_compile::planning_options()),
        Arc::new(RuntimeEnv::default()),
    )
}
