//! Arbitrary bytes as a Substrait plan: `rulec_substrait::decode`, and when the bytes decode,
//! `from_substrait` against a session with the CPG, TPC-H and fixture input tables registered
//! (empty in-memory tables of the contract schemas). A malformed or hostile plan must be
//! rejected with an error; a panic is a finding.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulec_fuzz::targets::consume_substrait(data));
