//! The one integration-test binary: whole packs through the library and the `rulec`
//! binary, against the bundled data and the fixtures under `tests/`.

mod check_fixtures;
mod cli;
mod cpg_products;
mod round_trip;
mod snapshots;
mod support;
mod tidy;
