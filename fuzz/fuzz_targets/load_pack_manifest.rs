//! Arbitrary bytes as `pack.yaml`, in an in-memory pack with the CPG, TPC-H and fixture
//! contracts and one small rule: `PackManifest::parse` directly, then the pack loader as
//! `rulec check` runs it (`load_pack`: UTF-8 decoding, the manifest, the dialect, inputs
//! without contracts, rule names shadowing inputs; `lint_levels`: the `lints:` section), with
//! every finding rendered against the manifest text. Nothing is compiled.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulec_fuzz::targets::load_pack_manifest(data));
