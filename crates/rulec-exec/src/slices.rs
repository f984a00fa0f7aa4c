//! Running a product's slices (see `rulec_compile::slices` for what a slice is and which
//! queries can be sliced): each pass runs with Parquet filter pushdown on.

use datafusion::execution::SessionState;

/// The setting a product's slices run with, whatever the profile says: Parquet filter
/// pushdown evaluates each pass's slice filter while decoding, so the other columns are
/// decoded only for the slice's rows (without it, every pass decodes every row).
pub const PUSHDOWN_SETTING: (&str, &str) =
    ("datafusion.execution.parquet.pushdown_filters", "true");

/// The session a product's slices run in: `state` with [`PUSHDOWN_SETTING`].
pub fn pushdown_session(state: &SessionState) -> SessionState {
    let mut sliced = state.clone();
    sliced
        .config_mut()
        .options_mut()
        .execution
        .parquet
        .pushdown_filters = true;
    sliced
}
