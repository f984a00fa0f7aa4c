//! Structure-aware: an `Arbitrary` query of a small typed SQL grammar over the real columns of
//! the CPG and TPC-H contracts (`rulec_fuzz::grammar`), rendered as the text of `rule.sql` and
//! checked as `rulec check` does (load, compile, Substrait encodability). When the rule
//! compiles without errors, its canonical SQL is printed as `rulec plan` does, and its plan
//! goes through the Substrait round trip that `rulec run` executes: `to_substrait`, `encode`,
//! `decode` (or, past prost's nesting limit, the message itself, as `run` does),
//! `from_substrait` (tables registered in the session). The consumed plan must have
//! the compiled plan's output field names and types; a mismatch, or a plan rulec produced that
//! does not decode or consume, is a finding (a panic).

#![no_main]

use rulec_fuzz::grammar::Query;

libfuzzer_sys::fuzz_target!(|query: Query| rulec_fuzz::targets::sql_grammar(&query));
