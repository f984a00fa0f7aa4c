//! Arbitrary bytes as one rule file, `rule.sql`, in an in-memory pack with the real CPG
//! `pack.yaml` and the CPG, TPC-H and check-fixture contracts; then `rulec check` on that
//! pack: load (UTF-8 decoding with `S006`, parsing, the DAG, lints), compile (planning, the
//! canonical pipeline, fingerprints), the Substrait encodability check, and every rendering of
//! the findings. Any panic is a finding.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulec_fuzz::targets::check_rule(data));
