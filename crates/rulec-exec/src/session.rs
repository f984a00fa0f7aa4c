//! The runtime session: DataFusion with its default functions and the options rulec plans
//! with, so that run-time types match compile-time types.

use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;

/// A session configured like the compiler (string types, parser options) with DataFusion's
/// default functions. It has no tables: the caller registers inputs and products.
pub fn runtime_session() -> SessionState {
    let options = rulec_compile::planning_options();
    let config = SessionConfig::from(options)
        // Information schema and URL tables stay off: rules read declared tables only.
        .with_information_schema(false);
    SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build()
}
