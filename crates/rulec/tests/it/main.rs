//! The one integration-test binary: whole packs through the library and the `rulec`
//! binary, against the bundled data and the fixtures under `tests/`.

#[cfg(feature = "ballista")]
mod ballista;
mod canonical;
mod check_fixtures;
mod cli;
mod cpg_products;
mod dialects;
mod diff;
mod equivalent_pairs;
mod execute;
mod hostile;
mod lineage;
mod mutate;
mod mutate_nested;
mod mutate_sensitive;
mod output_contracts;
mod properties;
mod publish;
mod replay;
mod round_trip;
mod run_fixtures;
mod run_incremental;
#[cfg(feature = "s3")]
mod s3;
mod snapshots;
mod support;
mod tidy;
